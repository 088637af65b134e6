// Mutated catalog documents for the differential test in tests/it/parity.rs.
//
// Usage: node catalog-gen.mjs OUTDIR
// Writes OUTDIR/g-NNNN.yaml (one case each) and OUTDIR/cases.json (file -> what the case changes).
// Deterministic: a valid document of every kind, then every field of it set to values of the wrong type,
// empty, null, malformed or at a length limit, root fields added or dropped, and YAML written by hand
// (duplicate keys, BOM, directives, null documents, anchors, unquoted numbers and booleans, comments).
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'yaml';

const out = process.argv[2];
fs.mkdirSync(out, { recursive: true });

const meta = (name) => ({
  name,
  title: 'A title',
  description: 'What it does',
  labels: { 'example.com/tier': 'gold', simple: 'yes' },
  annotations: { 'backstage.io/techdocs-ref': 'dir:.', 'github.com/project-slug': 'acme/x' },
  tags: ['java', 'pci-dss'],
  links: [{ url: 'https://example.com/dash', title: 'Dashboard', icon: 'dashboard', type: 'admin' }],
});

const v1 = 'backstage.io/v1alpha1';
const bases = {
  Component: { apiVersion: v1, kind: 'Component', metadata: meta('petstore'),
    spec: { type: 'service', lifecycle: 'production', owner: 'team-a', system: 'shop',
      subcomponentOf: 'component:shop-core', providesApis: ['petstore-api'], consumesApis: ['api:default/billing'],
      dependsOn: ['resource:orders-db'], dependencyOf: ['component:web'] } },
  API: { apiVersion: v1, kind: 'API', metadata: meta('petstore-api'),
    spec: { type: 'openapi', lifecycle: 'production', owner: 'user:jdoe', system: 'shop', definition: 'openapi: 3.0.0\n' } },
  McpApi: { apiVersion: v1, kind: 'API', metadata: meta('mcp'),
    spec: { type: 'mcp-server', lifecycle: 'experimental', owner: 'team-a', remotes: [{ type: 'sse', url: 'https://mcp.example.com/sse' }] } },
  Resource: { apiVersion: v1, kind: 'Resource', metadata: meta('orders-db'),
    spec: { type: 'database', owner: 'team-a', system: 'shop', dependsOn: ['resource:disk'], dependencyOf: ['component:orders'] } },
  System: { apiVersion: v1, kind: 'System', metadata: meta('shop'), spec: { owner: 'team-a', domain: 'commerce', type: 'product' } },
  Domain: { apiVersion: v1, kind: 'Domain', metadata: meta('commerce'), spec: { owner: 'team-a', subdomainOf: 'retail', type: 'business' } },
  Group: { apiVersion: v1, kind: 'Group', metadata: meta('team-a'),
    spec: { type: 'team', profile: { displayName: 'Team A', email: 'a@example.com', picture: 'https://example.com/a.png' },
      parent: 'eng', children: ['team-a1'], members: ['jdoe'] } },
  User: { apiVersion: v1, kind: 'User', metadata: meta('jdoe'),
    spec: { profile: { displayName: 'J Doe', email: 'j@example.com', picture: 'https://example.com/j.png' }, memberOf: ['team-a'] } },
  Location: { apiVersion: v1, kind: 'Location', metadata: meta('more'),
    spec: { type: 'file', target: './no-such-dir/one.yaml', targets: ['./no-such-dir/two.yaml'], presence: 'optional' } },
  Template: { apiVersion: 'scaffolder.backstage.io/v1beta3', kind: 'Template', metadata: meta('service'),
    spec: { type: 'service', owner: 'team-a', lifecycle: 'production',
      parameters: [{ title: 'Name', required: ['name'], properties: { name: { type: 'string' } } }],
      steps: [{ id: 'fetch', name: 'Fetch', action: 'fetch:template', input: { url: './skeleton' }, if: '${{ true }}' }],
      output: { links: [{ title: 'Repo', url: 'https://example.com/r', icon: 'github' }], text: [{ title: 'Done', content: 'ok' }], note: 'x' } } },
};

const cases = [];
const emit = (what, text) => {
  const file = `g-${String(cases.length).padStart(4, '0')}.yaml`;
  fs.writeFileSync(path.join(out, file), text);
  cases.push([file, what]);
};

const clone = (v) => JSON.parse(JSON.stringify(v));
// Sets (or, for undefined, deletes) the value at a dotted path; numeric parts index arrays.
function setPath(obj, dotted, value) {
  const parts = dotted.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    if (cur[p] === undefined || cur[p] === null || typeof cur[p] !== 'object') cur[p] = {};
    cur = cur[p];
  }
  const last = parts[parts.length - 1];
  if (value === undefined) delete cur[last];
  else cur[last] = value;
  return obj;
}
const show = (v) => (v === undefined ? '(removed)' : JSON.stringify(v));
const mutate = (kind, field, values) => {
  for (const v of values) emit(`${kind}: ${field} = ${show(v)}`, yaml.stringify(setPath(clone(bases[kind]), field, v)));
};

const long = (n, c = 'a') => c.repeat(n);
const stringish = [undefined, '', ' ', null, 5, true, [], {}, ['x'], 'x y', long(64), 'Ünïcode'];
const refish = [undefined, '', null, 5, ['team-a'], 'team a', 'group:team-a', 'user:default/jdoe', 'default/team-a',
  'group:', ':x', 'a:b:c', 'a/b/c', 'Group:Ops/Team-A', 'team_a', 'x'.repeat(70), { kind: 'Group', name: 'a' }];
const refListish = [undefined, null, [], 'team-a', ['team-a', 'group:ops/x'], [''], [null], [5], ['a b'], {}, ['kind:'], ['a/b/c']];

// Every kind: the envelope and the metadata.
for (const kind of Object.keys(bases)) {
  emit(`${kind}: valid`, yaml.stringify(bases[kind]));
  mutate(kind, 'apiVersion', [undefined, '', 5, 'backstage.io/v1beta1', 'backstage.io/v2', 'backstage.io/v1 alpha1', 'v1alpha1',
    'Backstage.io/v1alpha1', 'scaffolder.backstage.io/v1beta2', 'backstage.io/v1alpha1/x']);
  mutate(kind, 'kind', [undefined, '', 5, bases[kind].kind.toLowerCase(), bases[kind].kind.toUpperCase(), long(64, 'K'),
    'Compo nent', '9Kind', 'Environment']);
  mutate(kind, 'metadata', [undefined, null, 'x', []]);
  mutate(kind, 'metadata.name', [undefined, '', null, 5, 'a', 'a.b_c-d', '-a', 'a-', 'a b', long(63), long(64), 'A1', 'a..b', 'Ünï']);
  mutate(kind, 'metadata.namespace', [undefined, '', null, 5, 'default', 'team--a', 'Team', 'a_b', '-a', long(63), long(64), 'ops']);
  mutate(kind, 'metadata.title', stringish);
  mutate(kind, 'metadata.description', [undefined, '', null, 5, ['x'], 'multi\nline']);
  mutate(kind, 'metadata.labels', [undefined, null, {}, 'x', [], { a: 5 }, { a: null }, { a: '' }, { a: 'b c' }, { a: long(64) },
    { 'Bad Prefix/x': 'y' }, { 'a/': 'y' }, { '/x': 'y' }, { 'a/b/c': 'y' }, { [`${long(254)}/x`]: 'y' }, { 'ex_ample.com/x': 'y' },
    { 'a.b/c': 'ok' }, { [long(64)]: 'y' }, { '-x': 'y' }, { 'x.': 'y' }]);
  mutate(kind, 'metadata.annotations', [undefined, null, {}, 'x', { a: 5 }, { a: true }, { a: '' }, { a: 'any thing: goes' },
    { 'Bad Prefix/x': 'y' }, { 'a/b/c': 'y' }, { [long(64)]: 'y' }, { 'backstage.io/managed-by-location': 'url:x' }]);
  mutate(kind, 'metadata.tags', [undefined, null, [], 'java', [''], [5], [null], ['Java'], ['a_b'], ['c++'], ['c#'], ['a:b'], ['-a'],
    [long(63)], [long(64)], ['a--b'], [['x']]]);
  mutate(kind, 'metadata.links', [undefined, null, [], 'x', [{}], [{ url: '' }], [{ url: 'not a url' }], [{ url: 'mailto:a@b.c' }],
    [{ url: 5 }], [{ url: 'https://x', title: '' }], [{ url: 'https://x', icon: '' }], [{ url: 'https://x', title: 5 }],
    [{ url: 'https://x', type: '' }], [{ url: 'https://x', extra: 1 }], ['https://x'], [null]]);
  mutate(kind, 'metadata.uid', ['', 5, 'abc']);
  mutate(kind, 'metadata.etag', ['', 'abc']);
  mutate(kind, 'metadata.extra', ['anything', null]);
  mutate(kind, 'spec', [undefined, null, 'x', [], {}]);
  mutate(kind, 'foo', ['bar']);
  mutate(kind, 'relations', [[], [{ type: 'ownedBy', targetRef: 'group:default/a' }], 'x']);
  mutate(kind, 'status', [{}, { items: [] }, 'x']);
}

// Every spec field of every kind.
const specFields = {
  Component: { type: stringish, lifecycle: stringish, owner: refish, system: refish, subcomponentOf: refish,
    providesApis: refListish, consumesApis: refListish, dependsOn: refListish, dependencyOf: [...refListish, 'component:x', 5] },
  API: { type: [...stringish, 'mcp-server'], lifecycle: stringish, owner: refish, system: refish,
    definition: [undefined, '', null, 5, { a: 1 }, 'x'], remotes: [[], null] },
  McpApi: { remotes: [undefined, [], null, 'x', [{}], [{ type: 'sse' }], [{ url: 'https://x' }], [{ type: '', url: 'x' }]], definition: ['x'],
    type: ['openapi'] },
  Resource: { type: stringish, owner: refish, system: refish, dependsOn: refListish, dependencyOf: refListish },
  System: { owner: refish, domain: refish, type: stringish },
  Domain: { owner: refish, subdomainOf: refish, type: stringish },
  Group: { type: stringish, parent: refish, children: refListish, members: refListish,
    profile: [undefined, null, {}, 'x', { displayName: 5 }, { displayName: '' }, { email: 5 }, { email: [] }, { picture: true }, { other: 1 }] },
  User: { memberOf: refListish, profile: [undefined, null, {}, 'x', { displayName: 5 }, { email: '' }, { picture: 5 }, { other: 1 }] },
  Location: { type: [undefined, '', 5, 'url', 'github', 'file'], target: [undefined, '', 5, null, './dir/', 'https://example.com/x.yaml', './**/x.yaml'],
    targets: [undefined, null, [], 'x', [''], [5], ['./a.yaml', './b.yaml']], presence: [undefined, '', 'required', 'optional', 'maybe', 5, null] },
  Template: { type: stringish, owner: refish, lifecycle: stringish,
    parameters: [undefined, null, 'x', 5, {}, [], [{}], [5], [{ when: 5 }], [{ when: true }], { 'backstage:permissions': { tags: [5] } }],
    steps: [undefined, null, [], {}, { a: { action: 'x' } }, [{}], [{ action: 5 }], [{ action: 'x', id: 5 }], [{ action: 'x', name: 5 }],
      [{ action: 'x', input: 'x' }], [{ action: 'x', if: 5 }], [{ action: 'x', if: false }], ['fetch:template'], [null]],
    output: [undefined, null, {}, 'x', { note: 5 }, { note: null }, { links: 'x' }, { links: [{ url: '' }] }, { links: [{ title: 5 }] },
      { links: [{ if: 5 }] }, { text: [{ content: 5 }] }, { text: [5] }],
    secrets: [{}, 'x', { schema: 'x' }], presentation: [{}, 'x', { buttonLabels: { backButtonText: 5 } }] },
};
for (const [kind, fields] of Object.entries(specFields)) {
  for (const [field, values] of Object.entries(fields)) mutate(kind, `spec.${field}`, values);
}

// YAML written by hand.
const comp = (name, extra = '') =>
  `apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ${name}\n${extra}spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n`;
const group = (extra) => `apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-x\n${extra}spec:\n  type: team\n  children: []\n`;
const raw = [
  ['unquoted integer name', comp('0123')],
  ['unquoted octal-like name', comp('0o17')],
  ['unquoted float name', comp('1.5')],
  ['unquoted boolean name', comp('true')],
  ['yes as name (a string in YAML 1.2)', comp('yes')],
  ['on as name', comp('on')],
  ['null name', comp('null')],
  ['tilde name', comp('~')],
  ['quoted integer name', comp("'0123'")],
  ['hex-like name', comp('0x1F')],
  ['name with exponent', comp('1e3')],
  ['namespace: null', comp('x', '  namespace: null\n')],
  ['namespace: ~', comp('x', '  namespace: ~\n')],
  ['title: empty', comp('x', '  title: ""\n')],
  ['title: null', comp('x', '  title: null\n')],
  ['description: null', comp('x', '  description:\n')],
  ['annotations with only comments', group('  annotations:\n    # backstage.io/techdocs-ref: dir:.\n')],
  ['labels with only comments', group('  labels:\n    # tier: gold\n')],
  ['tags with only comments', group('  tags:\n    # - java\n')],
  ['links with only comments', group('  links:\n    # - url: https://x\n')],
  ['a byte-order mark', `\uFEFF${comp('bom')}`],
  ['a %YAML 1.2 directive', `%YAML 1.2\n---\n${comp('directive')}`],
  ['a %YAML 1.1 directive', `%YAML 1.1\n---\n${comp('directive11')}`],
  ['a %TAG directive', `%TAG !e! tag:example.com,2000:\n---\n${comp('tagdir')}`],
  ['a ~ document before ---', `~\n---\n${comp('after-null')}`],
  ['a null document between', `${comp('one')}---\nnull\n---\n${comp('two')}`],
  ['an empty document at the end', `${comp('one')}---\n`],
  ['document end markers', `${comp('one')}...\n---\n${comp('two')}...\n`],
  ['a scalar document', 'just a string\n'],
  ['a list document', '- a\n- b\n'],
  ['a number document', '5\n'],
  ['duplicate name key', comp('first', '  name: second\n')],
  ['duplicate root key', `${comp('dup')}kind: Component\n`],
  ['duplicate spec key', `${comp('dupspec')}  owner: team-b\n`],
  ['duplicate key in flow map', 'apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: a, name: b}\nspec: {type: s, lifecycle: p, owner: o}\n'],
  ['anchors and aliases', 'apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: anchored\n  labels: &l {tier: gold}\n  annotations: *l\nspec: &s\n  type: service\n  lifecycle: production\n  owner: team-a\n'],
  ['merge key', 'apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: merged\nspec:\n  <<: {type: service, lifecycle: production}\n  owner: team-a\n'],
  ['an undefined alias', comp('x', '  title: *nope\n')],
  ['a tab indentation', 'apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n\tname: tabbed\n'],
  ['unterminated flow', 'apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: x\n'],
  ['boolean label value', comp('x', '  labels:\n    enabled: true\n')],
  ['integer annotation value', comp('x', '  annotations:\n    example.com/port: 8080\n')],
  ['integer tag', comp('x', '  tags:\n    - 2024\n')],
  ['a !!str tag on a number', comp('!!str 0123')],
  ['a custom tag', comp('!custom x')],
  ['a binary tag', comp('x', '  title: !!binary aGVsbG8=\n')],
  ['a binary tag on an annotation', comp('x', '  annotations:\n    example.com/b: !!binary aGVsbG8=\n')],
  ['a negative leading-zero name', comp('-0123')],
  ['a plus-signed integer name', comp('+12')],
  ['an !!int tag on a quoted name', comp("!!int '12'")],
  ['a !!float tag', comp('x', '  title: !!float 1\n')],
  ['a !!bool tag', comp('x', '  title: !!bool true\n')],
  ['a !!null tag', comp('x', '  title: !!null ~\n')],
  ['a custom tag on a number', comp('x', '  title: !num 5\n')],
  ['an integer label key', comp('x', '  labels:\n    1: a\n')],
  ['1 and 1.0 as keys', comp('x', '  labels:\n    1: a\n    1.0: b\n')],
  ['a null key', comp('x', '  labels:\n    ~: a\n')],
  ['an infinite title', comp('x', '  title: .inf\n')],
  ['a big integer name', comp('123456789012345678901234567890')],
  ['an alias of a scalar', 'apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: &n aliased\n  title: *n\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n'],
  ['a date as title', comp('x', '  title: 2024-01-01\n')],
  ['a block scalar description', comp('x', '  description: |\n    line one\n    line two\n')],
  ['the same ref twice in one file', `${comp('twice')}---\n${comp('twice')}`],
  ['the same ref twice, other case', `${comp('twice')}---\n${comp('Twice')}`],
  ['a bad document between good ones', `${comp('good-a')}---\n${comp('bad name')}---\n${comp('good-b')}`],
  ['CRLF line endings', comp('crlf').replace(/\n/g, '\r\n')],
  ['a comment-only file', '# nothing here\n'],
  ['an empty file', ''],
  ['a document marker with content', `--- ${JSON.stringify(yaml.parse(comp('inline')))}\n`],
  ['spec.dependsOn: null', comp('x').replace('  owner: team-a\n', '  owner: team-a\n  dependsOn:\n')],
  ['spec.system: null', comp('x').replace('  owner: team-a\n', '  owner: team-a\n  system: null\n')],
  ['dependencyOf as a string', comp('x').replace('  owner: team-a\n', '  owner: team-a\n  dependencyOf: component:web\n')],
  ['Location spec: {}', 'apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: empty-loc\nspec: {}\n'],
  ['owner with a space', comp('x').replace('owner: team-a', 'owner: team a')],
  ['dependsOn with a space', comp('x').replace('  owner: team-a\n', '  owner: team-a\n  dependsOn: [component:my db]\n')],
  ['very long string value', comp('x', `  description: ${long(10000)}\n`)],
  ['a JSON document', JSON.stringify(yaml.parse(comp('json-doc')))],
];
for (const [what, text] of raw) emit(`YAML: ${what}`, text);

fs.writeFileSync(path.join(out, 'cases.json'), JSON.stringify(Object.fromEntries(cases)));
process.stderr.write(`${cases.length} cases\n`);
