#!/usr/bin/env node
// Greenroom through Apollo Client 3 (`@apollo/client/core`, no React), as a frontend configures it:
// HttpLink over fetch, an InMemoryCache with `possibleTypes` read from the live server's introspection
// and relay-style pagination of `Query.entities` (keyed by filter, query and orderBy).
//
//   node apollo-client.mjs HTTP_URL [TOKEN]
//
// Checks, one `ok <name>: ...` line each (a failure prints `FAIL <name>: ...`; exit 1 on any):
// - paging `entities` with `fetchMore` leaves every entity in the merged cache list exactly once, in the
//   order of one big page, for two lists (all entities by ref; components by name, descending) that the
//   cache keeps apart; `totalCount` is the list's length;
// - fragments on the `Entity` interface read back from the cache (possibleTypes) with no field missing;
// - a query mixing a found entity, a missing one and a refused ref, with `errorPolicy: 'all'`, gives the
//   data with `null` at the refused ref's path, one error at that path, and the same data from the cache;
// - `cache.identify` gives every entity its own id, and entities of different kinds different ids;
// - Apollo logs no warning or error at all (a "Missing field" means the server left a field out).
// The whole run has a global deadline (exit 1 when it passes).

import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client/core/index.js';
import { relayStylePagination } from '@apollo/client/utilities/index.js';
import { loadDevMessages, loadErrorMessages } from '@apollo/client/dev/index.js';

// Apollo's warnings in full (not as links), so a failure says what it is.
loadDevMessages();
loadErrorMessages();

const DEADLINE_MS = 60_000;
setTimeout(() => {
  console.log(`FAIL timeout: the run took more than ${DEADLINE_MS} ms`);
  process.exit(1);
}, DEADLINE_MS).unref();

const [url, token] = process.argv.slice(2);
if (!url) {
  console.error('usage: node apollo-client.mjs HTTP_URL [TOKEN]');
  process.exit(2);
}
const headers = token ? { authorization: `Bearer ${token}` } : {};

// Everything Apollo says on the console, kept to be checked (and shown) at the end.
const logged = [];
for (const level of ['warn', 'error']) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    logged.push(`${level}: ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`);
    original(...args);
  };
}

let failures = 0;
let passed = 0;
function check(name, cond, detail) {
  if (cond) {
    passed += 1;
    console.log(`ok ${name}: ${detail}`);
  } else {
    failures += 1;
    console.log(`FAIL ${name}: ${detail}`);
  }
}

const fetchWithTimeout = (input, init = {}) => fetch(input, { ...init, signal: AbortSignal.timeout(10_000) });

/** `possibleTypes` for the cache, from the server's own introspection. */
async function possibleTypes() {
  const res = await fetchWithTimeout(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: '{ __schema { types { kind name possibleTypes { name } } } }' }),
  });
  const body = await res.json();
  const out = {};
  for (const t of body.data.__schema.types) {
    if (t.possibleTypes?.length) out[t.name] = t.possibleTypes.map((p) => p.name);
  }
  return out;
}

function newClient(types) {
  return new ApolloClient({
    link: new HttpLink({ uri: url, headers, fetch: fetchWithTimeout }),
    cache: new InMemoryCache({
      possibleTypes: types,
      typePolicies: {
        Query: { fields: { entities: relayStylePagination(['filter', 'query', 'orderBy']) } },
      },
    }),
  });
}

const PAGE = gql`
  fragment Card on Entity {
    id
    ref
    kind
    name
    title
  }
  query Page($first: Int!, $after: String, $filter: EntityFilter, $orderBy: EntityOrder) {
    entities(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
      totalCount
      edges {
        cursor
        node {
          __typename
          ...Card
          ... on Component {
            lifecycle
            owner {
              ...Card
            }
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

/** Pages through `entities` with `fetchMore`, `size` at a time; returns the cache's merged list. */
async function pageThrough(client, size, variables) {
  const watched = client.watchQuery({ query: PAGE, variables: { first: size, ...variables } });
  // The first complete result, through a subscription that keeps the query watched while paging.
  let result = await new Promise((resolve, reject) => {
    watched.subscribe({ next: (r) => !r.loading && resolve(r), error: reject });
  });
  let pages = 1;
  while (result.data.entities.pageInfo.hasNextPage) {
    if (pages > 200) throw new Error('more than 200 pages');
    await watched.fetchMore({ variables: { after: result.data.entities.pageInfo.endCursor } });
    result = watched.getCurrentResult();
    pages += 1;
  }
  const cached = client.readQuery({ query: PAGE, variables: { first: size, ...variables } });
  return { merged: result.data.entities, cached: cached?.entities, pages, complete: !result.partial };
}

async function pagination(types) {
  const lists = [
    ['all-by-ref', {}, 7],
    ['components-by-name-desc', { filter: { kind: ['component'] }, orderBy: { field: 'NAME', direction: 'DESC' } }, 4],
  ];
  const client = newClient(types);
  const refsByList = {};
  for (const [name, variables] of lists) {
    // The expected list: one page big enough for all, on a client of its own.
    const big = await newClient(types).query({ query: PAGE, variables: { first: 500, ...variables } });
    refsByList[name] = big.data.entities.edges.map((e) => e.node.ref);
  }
  for (const [name, variables, size] of lists) {
    const expected = refsByList[name];
    const { merged, cached, pages, complete } = await pageThrough(client, size, variables);
    const refs = merged.edges.map((e) => e.node.ref);
    const cachedRefs = cached?.edges.map((e) => e.node.ref);
    check(
      `fetchmore-merges-${name}`,
      complete &&
        expected.length > 2 * size &&
        pages === Math.ceil(expected.length / size) &&
        JSON.stringify(refs) === JSON.stringify(expected) &&
        JSON.stringify(cachedRefs) === JSON.stringify(expected) &&
        new Set(refs).size === refs.length &&
        merged.totalCount === expected.length &&
        merged.pageInfo.hasNextPage === false,
      `${refs.length} entities in ${pages} pages of ${size}, totalCount ${merged.totalCount}, first ${refs[0]}, last ${refs.at(-1)}`,
    );
  }
  // The component list holds components only; the full list every kind: the cache kept them apart.
  const components = refsByList['components-by-name-desc'];
  check(
    'lists-kept-apart-by-key-args',
    components.every((r) => r.startsWith('component:')) &&
      refsByList['all-by-ref'].some((r) => !r.startsWith('component:')) &&
      components.length < refsByList['all-by-ref'].length,
    `${components.length} components of ${refsByList['all-by-ref'].length} entities`,
  );

  // Fragments on the interface (Card on Entity, also on `owner: Entity`) read back from the cache.
  const owned = client
    .readQuery({ query: PAGE, variables: { first: 4, ...lists[1][1] } })
    .entities.edges.map((e) => e.node)
    .filter((n) => n.owner);
  check(
    'interface-fragments-read-from-cache',
    owned.length > 0 &&
      owned.every((n) => typeof n.owner.ref === 'string' && typeof n.owner.kind === 'string' && n.owner.id) &&
      owned.every((n) => typeof n.lifecycle === 'string'),
    `${owned.length} components with an owner, e.g. ${owned[0]?.ref} owned by ${owned[0]?.owner?.ref}`,
  );

  // Every entity gets its own cache id; different kinds different ones.
  const ids = new Map();
  for (const e of client.readQuery({ query: PAGE, variables: { first: 7 } }).entities.edges) {
    ids.set(client.cache.identify(e.node), e.node.ref);
  }
  const kinds = new Set([...ids.values()].map((r) => r.split(':')[0]));
  const component = client.cache.identify({ __typename: 'Component', id: idOf(client, 'component:default/artist-lookup') });
  const system = [...ids.entries()].find(([, r]) => r.startsWith('system:'))?.[0];
  check(
    'cache-identify-distinct',
    ids.size === refsByList['all-by-ref'].length &&
      !ids.has(undefined) &&
      kinds.size >= 5 &&
      component?.startsWith('Component:') &&
      system?.startsWith('System:') &&
      component !== system,
    `${ids.size} distinct ids over ${kinds.size} kinds, e.g. ${component} and ${system}`,
  );
}

/** The id the cache holds for the entity `ref` (from the merged full list). */
function idOf(client, ref) {
  const list = client.readQuery({ query: PAGE, variables: { first: 7 } }).entities.edges;
  return list.find((e) => e.node.ref === ref)?.node.id;
}

const MIXED = gql`
  query Mixed {
    found: entity(ref: "component:artist-lookup") {
      __typename
      id
      ref
      ... on Component {
        lifecycle
      }
    }
    missing: entity(ref: "component:nope") {
      id
      ref
    }
    bad: entity(ref: "::") {
      id
      ref
    }
  }
`;

async function partialData(types) {
  const client = newClient(types);
  const r = await client.query({ query: MIXED, errorPolicy: 'all' });
  const errors = r.errors ?? [];
  check(
    'error-policy-all-keeps-data',
    r.data?.found?.ref === 'component:default/artist-lookup' &&
      r.data.found.lifecycle === 'experimental' &&
      r.data.missing === null &&
      r.data.bad === null &&
      Object.hasOwn(r.data, 'bad') &&
      errors.length === 1 &&
      JSON.stringify(errors[0].path) === '["bad"]' &&
      errors[0].extensions?.code === 'BAD_USER_INPUT',
    JSON.stringify({ data: r.data, errors }),
  );
  const cached = client.readQuery({ query: MIXED });
  check(
    'partial-data-cached-whole',
    cached !== null && cached.bad === null && cached.missing === null && cached.found.ref === r.data.found.ref,
    JSON.stringify(cached),
  );
}

const started = Date.now();
try {
  const types = await possibleTypes();
  check(
    'possible-types-from-introspection',
    types.Entity?.includes('Component') && types.Entity.includes('System') && types.Node?.includes('Group'),
    `Entity: ${types.Entity?.length} types, Node: ${types.Node?.length}`,
  );
  await pagination(types);
  await partialData(types);
} catch (e) {
  failures += 1;
  console.log(`FAIL run: ${e?.stack ?? e}`);
}
check('no-apollo-warnings', logged.length === 0, logged.length === 0 ? 'none' : logged.join(' | '));
console.log(`${passed} check(s) passed, ${failures} failed in ${Date.now() - started} ms`);
process.exit(failures === 0 ? 0 : 1);
