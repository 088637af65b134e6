#!/usr/bin/env node
// Greenroom through Relay: compiles the fragments and queries in `relay/` with relay-compiler against the
// checked-in `schema.graphql` (into a temporary directory of the run's own, CommonJS artifacts), then
// runs the compiled operations against a live server with relay-runtime (Environment, Network, Store) and
// reads the fragments back from the normalized store, as a Relay app's components would.
//
//   node relay-run.mjs HTTP_URL [TOKEN] [--tasks OK_TASK_ID,FAILED_TASK_ID] [--deployments REF]
//
// Checks, one `ok <name>: ...` line each (a failure prints `FAIL <name>: ...`; exit 1 on any):
// - relay-compiler accepts every document against schema.graphql;
// - the entity page (a Component with owner, system and relations) reads back complete with its values;
//   refetched by its global id through `node(id:)` (the compiled @refetchable query) it reads the same;
// - the entity list, a @connection paged with its @refetchable pagination query, holds every entity once,
//   in the order of one big page; every card fragment in it reads complete;
// - records shared by two queries (the owner group) are one record in the store;
// - with --deployments REF: REF's deployment history, a @connection paged through its @refetchable
//   query (Component.deployments over Node), equals one big page, newest first;
// - with --tasks A,B (two tasks of one template, A completed, B failed at a step): both task views read
//   from one store show each task's own step statuses and events (step records do not overwrite each
//   other), and node(id:) resolves a step's id to that step;
// - Relay logs no warning or error (conflicting ids, missing fields).
// The whole run has a global deadline (exit 1 when it passes).

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import RelayRuntime from 'relay-runtime';

const { Environment, Network, RecordSource, Store, fetchQuery, createOperationDescriptor, getSelector } =
  RelayRuntime;

const DEADLINE_MS = 90_000;
setTimeout(() => {
  console.log(`FAIL timeout: the run took more than ${DEADLINE_MS} ms`);
  process.exit(1);
}, DEADLINE_MS).unref();

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const [value] = args.splice(i, 2).slice(1);
  return value;
};
const tasks = option('--tasks')?.split(',');
const deploymentsOf = option('--deployments');
const [url, token] = args;
if (!url) {
  console.error('usage: node relay-run.mjs HTTP_URL [TOKEN] [--tasks A,B] [--deployments REF]');
  process.exit(2);
}

const logged = [];
for (const level of ['warn', 'error']) {
  const original = console[level].bind(console);
  console[level] = (...a) => {
    logged.push(`${level}: ${a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' ')}`);
    original(...a);
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

const here = dirname(fileURLToPath(import.meta.url));
// A directory of this run's own (several runs may compile at once), removed at exit.
const out = mkdtempSync(join(tmpdir(), 'greenroom-relay-'));
process.on('exit', () => rmSync(out, { recursive: true, force: true }));

/**
 * Runs relay-compiler on `relay/` with the checked-in relay.config.json, its paths made absolute and its
 * artifacts sent to this run's directory (`--artifactDirectory` cannot be combined with a config file).
 */
function compile() {
  const base = JSON.parse(readFileSync(join(here, 'relay.config.json'), 'utf8'));
  const config = {
    ...base,
    src: resolve(here, base.src),
    schema: resolve(here, base.schema),
    artifactDirectory: './__generated__',
  };
  mkdirSync(join(out, '__generated__'));
  writeFileSync(join(out, 'relay.config.json'), JSON.stringify(config, null, 2));
  // The artifacts are CommonJS (eagerEsModules: false); this package is ESM.
  writeFileSync(join(out, 'package.json'), '{ "type": "commonjs" }\n');
  const started = Date.now();
  const w = spawnSync(join(here, 'node_modules', '.bin', 'relay-compiler'), ['relay.config.json'], {
    cwd: out,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const text = `${w.stdout}${w.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
  const compiled = text.match(/compiled documents: [^\n]*/)?.[0];
  check('relay-compiler', w.status === 0, `${compiled ?? text.trim()} in ${Date.now() - started} ms`);
  if (w.status !== 0) throw new Error(`relay-compiler failed:\n${text}`);
}

const requireArtifact = (name) => createRequire(import.meta.url)(join(out, '__generated__', `${name}.graphql.js`));

/** A Relay environment over the server: every operation is one POST with its text and variables. */
function relayEnvironment() {
  const network = Network.create(async (params, variables) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query: params.text, variables }),
      signal: AbortSignal.timeout(10_000),
    });
    return res.json();
  });
  return new Environment({ network, store: new Store(new RecordSource()) });
}

/** Fetches `query` with `variables` into `env`'s store and keeps it there; returns the root snapshot. */
async function load(env, query, variables) {
  const op = createOperationDescriptor(query, variables);
  env.retain(op);
  await fetchQuery(env, query, variables, { fetchPolicy: 'network-only' }).toPromise();
  return env.lookup(op.fragment);
}

/** Reads `fragment` from the store at the fragment reference `ref` (what useFragment does). */
function read(env, fragment, ref) {
  const selector = getSelector(fragment, ref);
  if (selector === null) throw new Error(`no selector for ${fragment.name} at ${JSON.stringify(ref)}`);
  return env.lookup(selector);
}

const A = {};
function artifacts() {
  for (const name of [
    'EntityPageQuery',
    'EntityPageRefetchQuery',
    'EntityPage_component',
    'EntityListQuery',
    'EntityListPaginationQuery',
    'EntityList_query',
    'EntityList_card',
  ]) {
    A[name] = requireArtifact(name);
  }
}

/** Pages `fragment` (a @connection at `path`) with its pagination `query` until the end; returns the
 *  final read and the number of pages. */
async function pageConnection(env, fragment, ref, pathOf, query, variables) {
  let snap = read(env, fragment, ref);
  let pages = 1;
  while (pathOf(snap.data).pageInfo.hasNextPage) {
    if (pages > 200) throw new Error('more than 200 pages');
    await load(env, query, { ...variables, after: pathOf(snap.data).pageInfo.endCursor });
    snap = read(env, fragment, ref);
    pages += 1;
  }
  return { snap, pages };
}

async function entityList(env) {
  const size = 7;
  const root = await load(env, A.EntityListQuery, { first: size, filter: null });
  const { snap, pages } = await pageConnection(
    env,
    A.EntityList_query,
    root.data,
    (d) => d.entities,
    A.EntityListPaginationQuery,
    { first: size, filter: null },
  );
  const edges = snap.data.entities.edges;
  const refs = edges.map((e) => e.node.ref);
  const bigEnv = relayEnvironment();
  const big = await load(bigEnv, A.EntityListQuery, { first: 500, filter: null });
  const expected = read(bigEnv, A.EntityList_query, big.data).data.entities.edges.map((e) => e.node.ref);
  check(
    'connection-pages-merge',
    !snap.isMissingData &&
      expected.length > 2 * size &&
      pages === Math.ceil(expected.length / size) &&
      JSON.stringify(refs) === JSON.stringify(expected) &&
      new Set(refs).size === refs.length &&
      snap.data.entities.totalCount === expected.length &&
      snap.data.entities.pageInfo.hasNextPage === false,
    `${refs.length} entities in ${pages} pages of ${size}, first ${refs[0]}, last ${refs.at(-1)}`,
  );
  const cards = edges.map((e) => read(env, A.EntityList_card, e.node));
  const bad = cards.filter((c, i) => c.isMissingData || c.data.kind.toLowerCase() !== refs[i].split(':')[0]);
  check(
    'card-fragments-complete',
    bad.length === 0 && cards.length === refs.length,
    `${cards.length} cards, ${bad.length} incomplete or of the wrong kind`,
  );
  return cards.map((c) => c.data);
}

async function entityPage(env, cards) {
  const root = await load(env, A.EntityPageQuery, { ref: 'component:artist-lookup' });
  const page = read(env, A.EntityPage_component, root.data.entity.component);
  const c = page.data;
  const relations = c.relations.map((r) => `${r.type}:${r.targetRef}:${r.target?.ref}`).sort();
  check(
    'entity-page-fragment',
    !page.isMissingData &&
      root.data.entity.__typename === 'Component' &&
      c.ref === 'component:default/artist-lookup' &&
      c.name === 'artist-lookup' &&
      c.description === 'Artist Lookup' &&
      c.lifecycle === 'experimental' &&
      c.type === 'service' &&
      JSON.stringify(c.tags) === '["java","data"]' &&
      c.owner?.__typename === 'Group' &&
      c.owner.ref === 'group:default/team-a' &&
      typeof c.owner.type === 'string' &&
      c.system?.ref === 'system:default/artist-engagement-portal' &&
      c.system.domain?.ref === 'domain:default/artists' &&
      JSON.stringify(relations) ===
        JSON.stringify([
          'dependsOn:resource:default/artists-db:resource:default/artists-db',
          'ownedBy:group:default/team-a:group:default/team-a',
          'partOf:system:default/artist-engagement-portal:system:default/artist-engagement-portal',
        ]),
    JSON.stringify(c),
  );

  // One record per object: the owner seen by the list's cards and by the page is the same record.
  const fromCard = cards.find((k) => k.owner?.ref === 'group:default/team-a')?.owner;
  const record = env.getStore().getSource().get(c.owner.id);
  check(
    'shared-records-normalized',
    fromCard?.id === c.owner.id && record?.ref === 'group:default/team-a' && record.__typename === 'Group',
    `owner ${c.owner.id} is ${record?.__typename} ${record?.ref}`,
  );

  // Refetched by its global id through node(id:), in a store of its own: the same component.
  const fresh = relayEnvironment();
  const op = createOperationDescriptor(A.EntityPageRefetchQuery, { id: c.id });
  fresh.retain(op);
  await fetchQuery(fresh, A.EntityPageRefetchQuery, { id: c.id }).toPromise();
  const again = read(fresh, A.EntityPage_component, fresh.lookup(op.fragment).data.node);
  check(
    'refetch-by-node-id',
    !again.isMissingData && JSON.stringify(again.data) === JSON.stringify(c),
    `node(id: "${c.id}") gives ${again.data?.ref}`,
  );
}

const TASK_ARTIFACTS = ['TaskViewQuery', 'TaskView_task', 'TaskViewStepQuery'];
const DEPLOYMENT_ARTIFACTS = ['DeploymentHistoryQuery', 'DeploymentHistory_component', 'DeploymentHistoryPaginationQuery'];

/** REF's production deployments, paged 3 at a time through the fragment's @refetchable query. */
async function deploymentHistory(env, ref) {
  for (const name of DEPLOYMENT_ARTIFACTS) A[name] = requireArtifact(name);
  const size = 3;
  const environment = 'production';
  const root = await load(env, A.DeploymentHistoryQuery, { ref, environment });
  const id = root.data.entity.id;
  const { snap, pages } = await pageConnection(
    env,
    A.DeploymentHistory_component,
    root.data.entity.component,
    (d) => d.deployments,
    A.DeploymentHistoryPaginationQuery,
    { id, first: size, environment },
  );
  const nodes = snap.data.deployments.edges.map((e) => e.node);
  const bigEnv = relayEnvironment();
  const big = await load(bigEnv, A.DeploymentHistoryPaginationQuery, { id, first: 100, environment });
  const expected = read(bigEnv, A.DeploymentHistory_component, big.data.node).data.deployments.edges.map(
    (e) => e.node.id,
  );
  const source = env.getStore().getSource();
  check(
    'deployment-history-pages-merge',
    !snap.isMissingData &&
      nodes.length === 8 &&
      pages === 3 &&
      JSON.stringify(nodes.map((n) => n.id)) === JSON.stringify(expected) &&
      new Set(nodes.map((n) => n.id)).size === nodes.length &&
      nodes.every((n) => n.environment === environment && n.recordedBy === 'bot:ci') &&
      JSON.stringify(nodes.map((n) => n.version)) === JSON.stringify(['1.7', '1.6', '1.5', '1.4', '1.3', '1.2', '1.1', '1.0']) &&
      nodes.every((n) => source.get(n.id)?.__typename === 'Deployment'),
    `${nodes.length} deployments in ${pages} pages of ${size}: ${nodes.map((n) => n.version).join(' ')}`,
  );
}

/** Both tasks' views read from one store: each keeps its own steps and events. */
async function taskViews(env, [okId, failedId]) {
  for (const name of TASK_ARTIFACTS) A[name] = requireArtifact(name);
  const roots = {};
  for (const id of [okId, failedId]) roots[id] = (await load(env, A.TaskViewQuery, { id })).data.task;
  const view = (id) => read(env, A.TaskView_task, roots[id]);
  const [ok, failed] = [view(okId), view(failedId)];
  const steps = (v) => v.data.steps.map((st) => `${st.stepId}:${st.status}`).join(' ');
  const order = ['fetch', 'rename', 'wait', 'boom', 'snapshot', 'log'];
  const allIds = [...ok.data.steps, ...failed.data.steps].map((st) => st.id);
  check(
    'two-tasks-keep-their-own-steps',
    !ok.isMissingData &&
      !failed.isMissingData &&
      ok.data.status === 'COMPLETED' &&
      failed.data.status === 'FAILED' &&
      JSON.stringify(ok.data.steps.map((st) => st.stepId)) === JSON.stringify(order) &&
      JSON.stringify(failed.data.steps.map((st) => st.stepId)) === JSON.stringify(order) &&
      steps(ok) === 'fetch:COMPLETED rename:COMPLETED wait:SKIPPED boom:SKIPPED snapshot:COMPLETED log:COMPLETED' &&
      /^fetch:COMPLETED rename:COMPLETED wait:SKIPPED boom:FAILED snapshot:(?!COMPLETED)\S+ log:(?!COMPLETED)\S+$/.test(
        steps(failed),
      ) &&
      new Set(allIds).size === 12,
    `completed task: ${steps(ok)} | failed task: ${steps(failed)}`,
  );
  const events = (v) => v.data.events.edges.map((e) => e.node);
  const [okEvents, failedEvents] = [events(ok), events(failed)];
  check(
    'two-tasks-keep-their-own-events',
    okEvents.length > 0 &&
      ok.data.events.totalCount === okEvents.length &&
      failed.data.events.totalCount === failedEvents.length &&
      okEvents.at(-1)?.kind === 'completion' &&
      okEvents.at(-1).message === 'completed' &&
      failedEvents.at(-1)?.kind === 'completion' &&
      failedEvents.at(-1).message === 'failed' &&
      okEvents.some((e) => e.stepId === 'log' && /^created payments for /.test(e.message)) &&
      !failedEvents.some((e) => e.stepId === 'log') &&
      new Set([...okEvents, ...failedEvents].map((e) => e.id)).size === okEvents.length + failedEvents.length,
    `${okEvents.length} and ${failedEvents.length} events, ending ${okEvents.at(-1)?.message} and ${failedEvents.at(-1)?.message}`,
  );
  // One step alone by its global id; the other task's step of the same name is untouched.
  const boom = failed.data.steps.find((st) => st.stepId === 'boom');
  const node = (await load(env, A.TaskViewStepQuery, { id: boom.id })).data.node;
  const okBoom = view(okId).data.steps.find((st) => st.stepId === 'boom');
  check(
    'task-step-by-node-id',
    node?.__typename === 'TaskStep' &&
      node.id === boom.id &&
      node.stepId === 'boom' &&
      node.status === 'FAILED' &&
      okBoom.status === 'SKIPPED' &&
      okBoom.id !== boom.id,
    `node(id: "${boom.id}") is ${node?.__typename} ${node?.stepId} ${node?.status}; the completed task's boom is ${okBoom.status}`,
  );
}

const started = Date.now();
try {
  compile();
  artifacts();
  const env = relayEnvironment();
  const cards = await entityList(env);
  await entityPage(env, cards);
  if (deploymentsOf) await deploymentHistory(env, deploymentsOf);
  if (tasks) await taskViews(env, tasks);
} catch (e) {
  failures += 1;
  console.log(`FAIL run: ${e?.stack ?? e}`);
}
check('no-relay-warnings', logged.length === 0, logged.length === 0 ? 'none' : logged.join(' | '));
console.log(`${passed} check(s) passed, ${failures} failed in ${Date.now() - started} ms`);
process.exit(failures === 0 ? 0 : 1);
