// Filter predicates, Greenroom against Backstage's own evaluator: `@backstage/filter-predicates` decides
// which entities (as the server returns them from GET /entities) match each predicate and which
// predicates are invalid; `@backstage/catalog-client` sends the same predicates to the live server
// (argv[2]: its base URL) through queryEntities({query}) — following cursors — and getEntityFacets({query}).
// The predicates are generated from the catalog's own values: every operator, nested combinations,
// numbers, mixed case, dotted annotation keys, relations, and malformed ones.
import assert from 'node:assert/strict';
import { CatalogClient } from '@backstage/catalog-client';
import { evaluateFilterPredicate, parseFilterPredicate } from '@backstage/filter-predicates';

const base = process.argv[2];
const client = new CatalogClient({
  discoveryApi: { getBaseUrl: async () => `${base}/api/catalog` },
  fetchApi: { fetch },
});

const { items: entities } = await client.getEntities();
const refOf = e => `${e.kind}:${e.metadata.namespace}/${e.metadata.name}`.toLowerCase();

// A small deterministic generator (no dependency on Math.random).
let seed = 7;
const rnd = n => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
};
const pick = xs => xs[rnd(xs.length)];
const flip = s => [...s].map((c, i) => (i % 2 ? c.toUpperCase() : c.toLowerCase())).join('');
const uniq = xs => [...new Set(xs.filter(x => x !== undefined))];

const kinds = uniq(entities.map(e => e.kind));
const types = uniq(entities.map(e => e.spec?.type));
const lifecycles = uniq(entities.map(e => e.spec?.lifecycle));
const tags = uniq(entities.flatMap(e => e.metadata.tags ?? []));
const annotationKeys = uniq(entities.flatMap(e => Object.keys(e.metadata.annotations ?? {})));
const relations = entities.flatMap(e => e.relations ?? []);
const names = entities.map(e => e.metadata.name);

const leaves = [
  ...kinds.map(k => ({ kind: k })),
  ...kinds.map(k => ({ kind: flip(k) })),
  ...types.map(t => ({ 'spec.type': t })),
  ...lifecycles.map(l => ({ 'spec.lifecycle': l.toUpperCase() })),
  ...tags.map(t => ({ 'metadata.tags': { $contains: t } })),
  ...tags.slice(0, 3).map(t => ({ 'metadata.tags': t })),
  { 'metadata.tags': { $contains: { $any: tags.slice(0, 3) } } },
  { 'metadata.tags': { $contains: { $not: tags[0] } } },
  ...annotationKeys.map(k => ({ [`metadata.annotations.${k}`]: { $exists: true } })),
  ...annotationKeys.slice(0, 3).map(k => ({ metadata: { $exists: true }, [`metadata.annotations.${k}`]: { $exists: false } })),
  { 'spec.owner': { $exists: false } },
  { 'spec.owner': { $exists: true } },
  { 'spec.type': { $in: types.slice(0, 3) } },
  { kind: { $in: [kinds[0].toUpperCase(), 'nothing', 7] } },
  ...'abcdefgmprstw'.split('').map(c => ({ 'metadata.name': { $hasPrefix: c.toUpperCase() } })),
  ...names.slice(0, 5).map(n => ({ 'metadata.name': n })),
  ...relations.slice(0, 12).map(r => ({ relations: { $contains: { type: r.type, targetRef: r.targetRef } } })),
  { relations: { $contains: { type: 'ownedby' } } },
  { 'metadata.namespace': 'DEFAULT' },
  { apiVersion: 'backstage.io/v1alpha1' },
  { 'spec.profile.email': { $exists: true } },
  { 'spec.targets': { $contains: { $any: ['./a.yaml', './components/artist-lookup.yaml'] } } },
  { 'metadata.nope': 'x' },
  { 'spec.type': 5 },
  {},
];

const combine = depth => {
  if (depth === 0 || rnd(3) === 0) return pick(leaves);
  const op = pick(['$all', '$any', '$not', 'merge']);
  if (op === '$not') return { $not: combine(depth - 1) };
  if (op === 'merge') return { ...pick(leaves), ...pick(leaves) };
  return { [op]: Array.from({ length: 1 + rnd(3) }, () => combine(depth - 1)) };
};

const predicates = [...leaves, ...Array.from({ length: 160 }, () => combine(3))];
const invalid = [
  { $all: [], kind: 'x' },
  { $foo: 1 },
  { kind: null },
  { kind: ['component'] },
  { kind: { $in: [null] } },
  { kind: { $exists: 'yes' } },
  { $all: { kind: 'x' } },
  { $not: [{ kind: 'x' }] },
  { kind: { $regex: 'x' } },
  { 'spec.targets': { $contains: { $hasPrefix: './' } } },
  { 'a\nb': 'x' },
];

async function all(query) {
  let page = await client.queryEntities({ query, limit: 7, orderFields: { field: 'metadata.name', order: 'asc' } });
  const got = [...page.items];
  const total = page.totalItems;
  while (page.pageInfo.nextCursor) {
    page = await client.queryEntities({ cursor: page.pageInfo.nextCursor, limit: 7 });
    got.push(...page.items);
  }
  return { got, total };
}

let checked = 0;
const failures = [];
for (const query of predicates) {
  const parsed = parseFilterPredicate(query);
  const want = entities.filter(e => evaluateFilterPredicate(parsed, e)).map(refOf).sort();
  const { got, total } = await all(query);
  const refs = got.map(refOf);
  const sorted = [...refs].sort();
  if (JSON.stringify(sorted) !== JSON.stringify(want) || total !== want.length) {
    failures.push(`${JSON.stringify(query)}\n  Backstage: ${want.length} ${want.join(' ')}\n  Greenroom: ${refs.length} (total ${total}) ${sorted.join(' ')}`);
  }
  const names = got.map(e => e.metadata.name);
  assert.deepEqual(names, [...names].sort(), `ordered by name: ${JSON.stringify(query)}`);
  const { facets } = await client.getEntityFacets({ query, facets: ['kind', 'spec.lifecycle'] });
  const matched = entities.filter(e => evaluateFilterPredicate(parsed, e));
  for (const [facet, read] of [['kind', e => e.kind], ['spec.lifecycle', e => e.spec?.lifecycle]]) {
    const counts = {};
    for (const e of matched) {
      const v = read(e);
      if (v !== undefined) counts[v] = (counts[v] ?? 0) + 1;
    }
    const gotCounts = Object.fromEntries(facets[facet].map(f => [f.value, f.count]));
    if (JSON.stringify(Object.entries(gotCounts).sort()) !== JSON.stringify(Object.entries(counts).sort())) {
      failures.push(`facet ${facet} of ${JSON.stringify(query)}: Backstage ${JSON.stringify(counts)}, Greenroom ${JSON.stringify(gotCounts)}`);
    }
  }
  checked += 1;
}

for (const query of invalid) {
  assert.throws(() => parseFilterPredicate(query), `Backstage accepts ${JSON.stringify(query)}`);
  const res = await fetch(`${base}/api/catalog/entities/by-query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  const body = await res.json();
  if (res.status !== 400 || body.error?.name !== 'InputError') {
    failures.push(`invalid ${JSON.stringify(query)}: ${res.status} ${JSON.stringify(body)}`);
  }
  checked += 1;
}

if (failures.length) {
  console.log(failures.join('\n'));
  console.log(`${failures.length} disagreement(s) in ${checked} predicates`);
  process.exit(1);
}
console.log(`${checked} predicates agree with @backstage/filter-predicates`);
