// @backstage/catalog-client's CatalogClient against a live Greenroom server (argv[2]: the server's base
// URL; argv[3]: a catalog file the server may read, with one Component `client-written` described `one`,
// which this script rewrites): every method on the Backstage example catalog, with what Backstage returns.
import assert from 'node:assert/strict';
import { CatalogClient } from '@backstage/catalog-client';

import { writeFileSync } from 'node:fs';

const base = process.argv[2];
const written = process.argv[3];
const client = new CatalogClient({
  discoveryApi: { getBaseUrl: async () => `${base}/api/catalog` },
  fetchApi: { fetch },
});

const names = items => items.map(e => e.metadata.name).sort();
let checks = 0;
async function check(name, fn) {
  await fn();
  checks += 1;
  console.log(`ok ${name}`);
}

await check('getEntities filters, orders and prunes fields', async () => {
  const all = await client.getEntities();
  assert.equal(all.items.length, 65);
  const services = await client.getEntities({
    filter: { kind: 'Component', 'spec.type': 'service' },
    fields: ['metadata.name', 'kind'],
  });
  assert.equal(services.items.length, 10);
  assert.deepEqual(Object.keys(services.items[0]).sort(), ['kind', 'metadata']);
  const either = await client.getEntities({ filter: [{ kind: 'API' }, { kind: 'Domain' }] });
  assert.equal(either.items.length, 13);
  const tagged = await client.getEntities({ filter: { kind: 'component', 'metadata.tags': 'java' } });
  assert.equal(tagged.items.length, 3);
  const owned = await client.getEntities({
    filter: { kind: 'component', 'relations.ownedBy': 'group:default/team-a' },
  });
  assert.equal(owned.items.length, 5);
  const ordered = await client.getEntities({
    filter: { kind: 'user' },
    order: { field: 'metadata.name', order: 'desc' },
  });
  const got = ordered.items.map(e => e.metadata.name);
  assert.deepEqual(got, [...got].sort().reverse());
});

await check('queryEntities follows cursors', async () => {
  let page = await client.queryEntities({
    filter: { kind: 'component' },
    limit: 4,
    orderFields: { field: 'metadata.name', order: 'asc' },
  });
  assert.equal(page.totalItems, 13);
  const seen = [...page.items];
  let pages = 1;
  while (page.pageInfo.nextCursor) {
    page = await client.queryEntities({ cursor: page.pageInfo.nextCursor, limit: 4 });
    seen.push(...page.items);
    pages += 1;
  }
  assert.equal(pages, 4);
  const got = seen.map(e => e.metadata.name);
  assert.deepEqual(got, [...got].sort());
  assert.equal(new Set(got).size, 13);
  const back = await client.queryEntities({ cursor: page.pageInfo.prevCursor, limit: 4 });
  assert.deepEqual(names(back.items), got.slice(8, 12));
  const text = await client.queryEntities({ fullTextFilter: { term: 'wayback' } });
  assert.deepEqual(names(text.items), [
    'wayback-archive', 'wayback-archive-ingestion', 'wayback-archive-storage', 'wayback-search',
  ].concat(text.items.filter(e => e.kind !== 'Component').map(e => e.metadata.name)).sort());
});

await check('getEntityByRef returns the Backstage shape, undefined when missing', async () => {
  const e = await client.getEntityByRef('component:default/artist-lookup');
  assert.equal(e.kind, 'Component');
  assert.match(e.metadata.uid, /^[0-9a-f-]{36}$/);
  assert.ok(e.metadata.etag);
  assert.ok(e.relations.some(r => r.type === 'ownedBy' && r.targetRef === 'group:default/team-a'));
  assert.ok(e.metadata.annotations['backstage.io/managed-by-location']);
  assert.equal(await client.getEntityByRef('component:default/does-not-exist'), undefined);
  const team = await client.getEntityByRef({ kind: 'Group', namespace: 'default', name: 'team-a' });
  assert.ok(team.relations.some(r => r.type === 'ownerOf' && r.targetRef === 'component:default/artist-lookup'));
});

await check('getEntitiesByRefs keeps request order with undefined for missing', async () => {
  const res = await client.getEntitiesByRefs({
    entityRefs: ['group:default/team-b', 'component:default/nope', 'component:default/petstore'],
    fields: ['metadata.name'],
  });
  assert.deepEqual(res.items, [{ metadata: { name: 'team-b' } }, undefined, { metadata: { name: 'petstore' } }]);
});

await check('getEntityFacets counts values', async () => {
  const { facets } = await client.getEntityFacets({ facets: ['kind', 'spec.lifecycle'], filter: { kind: 'component' } });
  assert.deepEqual(facets.kind, [{ value: 'Component', count: 13 }]);
  assert.equal(facets['spec.lifecycle'].reduce((n, f) => n + f.count, 0), 13);
});

await check('streamEntities pages through every match (GET and predicate forms)', async () => {
  const pages = [];
  for await (const page of client.streamEntities({ filter: { kind: 'component' }, pageSize: 4 })) pages.push(page);
  assert.deepEqual(pages.map(p => p.length), [4, 4, 4, 1]);
  const all = await client.getEntities({ filter: { kind: 'component' } });
  assert.deepEqual(names(pages.flat()), names(all.items));
  const byPredicate = [];
  for await (const page of client.streamEntities({ query: { kind: 'component', 'spec.type': 'service' }, pageSize: 3 })) {
    byPredicate.push(...page);
  }
  const services = await client.getEntities({ filter: { kind: 'component', 'spec.type': 'service' } });
  assert.deepEqual(names(byPredicate), names(services.items));
});

await check('locations: list, by ref, by entity', async () => {
  const { items } = await client.getLocations();
  assert.ok(items.length >= 1);
  const loc = items[0];
  assert.equal(loc.type, 'file');
  const byRef = await client.getLocationByRef(`${loc.type}:${loc.target}`);
  assert.deepEqual(byRef, loc);
  const byEntity = await client.getLocationByEntity('component:default/artist-lookup');
  assert.deepEqual(byEntity, loc);
  assert.equal(await client.getLocationById('999999'), undefined);
  assert.deepEqual(await client.getLocationById(loc.id), loc);
});

await check('getEntityAncestors walks Location entities to the root', async () => {
  const res = await client.getEntityAncestors({ entityRef: 'component:default/artist-lookup' });
  assert.equal(res.rootEntityRef, 'location:default/greenroom-fixtures-root');
  assert.equal(res.items[0].entity.metadata.name, 'artist-lookup');
  assert.ok(res.items[0].parentEntityRefs.length >= 1);
});

await check('errors surface as Backstage ResponseErrors', async () => {
  await assert.rejects(client.getEntities({ order: { field: 'spec.nothing', order: 'asc' } }), e => {
    assert.equal(e.name, 'ResponseError');
    assert.equal(e.body.error.name, 'InputError');
    assert.equal(e.response.status, 400);
    return true;
  });
});

const component = description => `apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: client-written, description: ${description}}
spec: {type: service, lifecycle: production, owner: team-a}
`;

await check('addLocation dry run reports entities and stores nothing, then registers', async () => {
  const dry = await client.addLocation({ type: 'file', target: written, dryRun: true });
  assert.equal(dry.exists, false);
  assert.deepEqual(dry.entities.map(e => e.metadata.name), ['client-written']);
  assert.equal(await client.getEntityByRef('component:default/client-written'), undefined);
  const added = await client.addLocation({ type: 'file', target: written });
  assert.equal(added.location.type, 'file');
  assert.equal(added.location.target, written);
  assert.deepEqual(await client.getLocationById(added.location.id), added.location);
  const e = await client.getEntityByRef('component:default/client-written');
  assert.equal(e.metadata.description, 'one');
  const again = await client.addLocation({ type: 'file', target: written, dryRun: true });
  assert.equal(again.exists, true);
  await assert.rejects(client.addLocation({ type: 'file', target: written }), err => {
    assert.equal(err.body.error.name, 'ConflictError');
    assert.equal(err.response.status, 409);
    return true;
  });
});

await check('refreshEntity re-reads the source now', async () => {
  writeFileSync(written, component('two'));
  await client.refreshEntity('component:default/client-written');
  const e = await client.getEntityByRef('component:default/client-written');
  assert.equal(e.metadata.description, 'two');
  await assert.rejects(client.refreshEntity('component:default/does-not-exist'), err => err.response.status === 404);
});

await check("addLocation with onConflict 'refresh' re-reads the registered location (201)", async () => {
  writeFileSync(written, component('three'));
  const again = await client.addLocation({ type: 'file', target: written, onConflict: 'refresh' });
  assert.equal(again.location.target, written);
  const e = await client.getEntityByRef('component:default/client-written');
  assert.equal(e.metadata.description, 'three');
  await assert.rejects(client.addLocation({ type: 'file', target: written, onConflict: 'reject' }), err => {
    assert.equal(err.response.status, 409);
    return true;
  });
  await assert.rejects(client.addLocation({ type: 'file', target: written, onConflict: 'merge' }), err => {
    assert.equal(err.body.error.name, 'InputError');
    return true;
  });
});

await check('queryLocations and streamLocations page through the locations, filtered by predicates', async () => {
  const { items: all } = await client.getLocations();
  assert.equal(all.length, 2);
  const first = await client.queryLocations({ limit: 1 });
  assert.equal(first.totalItems, 2);
  assert.equal(first.items.length, 1);
  const second = await client.queryLocations({ cursor: first.pageInfo.nextCursor });
  assert.equal(second.pageInfo.nextCursor, undefined);
  assert.deepEqual([...first.items, ...second.items], all);
  const pages = [];
  for await (const page of client.streamLocations({ limit: 1 })) pages.push(page);
  assert.deepEqual(pages.flat(), all);
  const mine = await client.queryLocations({ query: { target: written } });
  assert.deepEqual(mine.items.map(l => l.target), [written]);
  const none = await client.queryLocations({ query: { $not: { type: 'FILE' } } });
  assert.equal(none.totalItems, 0);
  await assert.rejects(client.queryLocations({ query: { type: { $regex: 'f' } } }), err => {
    assert.equal(err.body.error.name, 'InputError');
    return true;
  });
});

await check('getEntityByName and analyzeLocation answer as Backstage does', async () => {
  const byName = await client.getEntityByName({ kind: 'Component', name: 'client-written' });
  assert.equal(byName.metadata.description, 'three');
  assert.deepEqual(byName, await client.getEntityByRef('component:default/client-written'));
  assert.equal(await client.getEntityByName({ kind: 'Component', namespace: 'default', name: 'nope' }), undefined);
  const analysis = await client.analyzeLocation({ location: { type: 'file', target: written } });
  assert.deepEqual(analysis.generateEntities, []);
  assert.equal(analysis.existingEntityFiles.length, 1);
  const [file] = analysis.existingEntityFiles;
  assert.equal(file.isRegistered, true);
  assert.deepEqual(file.location, { type: 'file', target: written });
  assert.equal(file.entity.metadata.name, 'client-written');
});

await check('validateEntity accepts valid entities and lists what is wrong with others', async () => {
  const entity = {
    apiVersion: 'backstage.io/v1alpha1', kind: 'Component',
    metadata: { name: 'fine' }, spec: { type: 'service', lifecycle: 'production', owner: 'team-a' },
  };
  assert.deepEqual(await client.validateEntity(entity, `file:${written}`), { valid: true });
  const bad = await client.validateEntity({ ...entity, metadata: { name: 'not valid!' } }, `file:${written}`);
  assert.equal(bad.valid, false);
  assert.ok(bad.errors.length >= 1);
  assert.ok(bad.errors.every(e => e.name === 'InputError' && typeof e.message === 'string'));
  assert.ok(bad.errors.some(e => e.message.includes('metadata.name')));
});

await check('updateLocation points a location elsewhere; its entities move with it', async () => {
  const loc = await client.getLocationByRef(`file:${written}`);
  const before = await client.getEntityByRef('component:default/client-written');
  const moved = written.replace(/\.yaml$/, '-moved.yaml');
  writeFileSync(moved, `${component('four')}---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: client-moved}
spec: {type: service, lifecycle: production, owner: team-a}
`);
  const updated = await client.updateLocation(loc.id, { type: 'file', target: moved });
  assert.deepEqual(updated, { id: loc.id, type: 'file', target: moved });
  assert.deepEqual(await client.getLocationById(loc.id), updated);
  assert.equal(await client.getLocationByRef(`file:${written}`), undefined);
  const after = await client.getEntityByRef('component:default/client-written');
  assert.equal(after.metadata.description, 'four');
  assert.equal(after.metadata.uid, before.metadata.uid);
  assert.notEqual(after.metadata.etag, before.metadata.etag);
  assert.deepEqual(await client.getLocationByEntity('component:default/client-moved'), updated);
  const { items } = await client.getLocations();
  const configured = items.find(l => l.id !== loc.id);
  const other = written.replace(/\.yaml$/, '-other.yaml');
  writeFileSync(other, 'apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: client-other}\nspec: {type: team, children: []}\n');
  const taken = await client.addLocation({ type: 'file', target: other });
  await assert.rejects(client.updateLocation(loc.id, { type: 'file', target: other }), err => {
    assert.equal(err.body.error.name, 'ConflictError');
    assert.equal(err.response.status, 409);
    return true;
  });
  await client.removeLocationById(taken.location.id);
  await assert.rejects(client.updateLocation(configured.id, { type: 'file', target: written }), err => {
    assert.equal(err.body.error.name, 'InputError');
    return true;
  });
  await assert.rejects(client.updateLocation('999999', { type: 'file', target: written }), err => {
    assert.equal(err.body.error.name, 'NotFoundError');
    assert.equal(err.response.status, 404);
    return true;
  });
  await assert.rejects(client.updateLocation(loc.id, { type: 'file', target: '/etc/passwd' }), err => {
    assert.equal(err.body.error.name, 'InputError');
    assert.equal(err.response.status, 400);
    return true;
  });
  // Back where it was: client-moved goes, client-written stays with its uid.
  await client.updateLocation(loc.id, { type: 'file', target: written });
  assert.equal(await client.getEntityByRef('component:default/client-moved'), undefined);
  const back = await client.getEntityByRef('component:default/client-written');
  assert.equal(back.metadata.uid, before.metadata.uid);
  assert.equal((await client.getLocationById(loc.id)).target, written);
});

await check('removeEntityByUid and removeLocationById remove what they name', async () => {
  const e = await client.getEntityByRef('component:default/client-written');
  await client.removeEntityByUid(e.metadata.uid);
  assert.equal(await client.getEntityByRef('component:default/client-written'), undefined);
  // The location still provides it: the next refresh brings it back (as in Backstage).
  const loc = await client.getLocationByRef(`file:${written}`);
  assert.ok(loc);
  await client.removeLocationById(loc.id);
  assert.equal(await client.getLocationById(loc.id), undefined);
  assert.equal(await client.getEntityByRef('component:default/client-written'), undefined);
  await assert.rejects(client.removeLocationById(loc.id), err => err.response.status === 404);
});

console.log(`${checks} catalog-client checks passed`);
