#!/usr/bin/env node
// Greenroom's GraphQL WebSocket endpoint as a frontend sees it through the real `graphql-ws` client
// (the `graphql-transport-ws` protocol; node 20 has no global WebSocket, so `ws` is the implementation).
//
//   node ws-client.mjs HTTP_URL READER BOT NO_SCOPE WATCHER WATCHER_JTI ADMIN [--task ID TOKEN]
//
// HTTP_URL is the server's `/graphql` (the socket is `/graphql/ws` on the same host); the rest are bearer
// tokens: READER has catalog:read, BOT deployments:write + catalog:read, NO_SCOPE none of catalog:read,
// WATCHER catalog:read (revoked during the run by its jti, WATCHER_JTI, with ADMIN's admin token).
//
// Checks, one `ok <name>: ...` line each (a failure prints `FAIL <name>: ...` and exits 1):
// - a `deploymentEvents` subscription receives the deployment a mutation over HTTP records, then its
//   status change, with the values the mutations returned;
// - connection_init without a token, or with one that does not verify, closes with 4401;
// - a token without catalog:read is acknowledged, and its subscription ends with one FORBIDDEN error;
// - a malformed message closes with 4400, a second connection_init with 4429 (injected under the client
//   by a WebSocket subclass that rewrites what it sends);
// - revoking the token of a live subscription closes the socket with 4403;
// - with --task ID TOKEN (a completed task, TOKEN its creator's): `taskEvents(taskId:)` replays the task's
//   log as `Task.events` lists it and completes after its `completion` event; with `after:` an event's
//   global id, only the events after it.
// The whole run has a global deadline (exit 1 when it passes).

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const DEADLINE_MS = 60_000;
setTimeout(() => {
  console.log(`FAIL timeout: the run took more than ${DEADLINE_MS} ms`);
  process.exit(1);
}, DEADLINE_MS).unref();

const argv = process.argv.slice(2);
const taskAt = argv.indexOf('--task');
const [taskId, taskToken] = taskAt < 0 ? [] : argv.splice(taskAt, 3).slice(1);
const [httpUrl, reader, bot, noScope, watcher, watcherJti, admin] = argv;
if (!admin) {
  console.error('usage: node ws-client.mjs HTTP_URL READER BOT NO_SCOPE WATCHER WATCHER_JTI ADMIN [--task ID TOKEN]');
  process.exit(2);
}
const wsUrl = `${httpUrl.replace(/^http/, 'ws')}/ws`;

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

/** One GraphQL request over HTTP with `token`; returns the parsed body. */
async function http(token, query, variables = {}) {
  const res = await fetch(httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(10_000),
  });
  return res.json();
}

const RECORD = `mutation($v: String!) { recordDeployment(input: {entityRef: "component:artist-lookup",
  environment: "staging", version: $v}) { id version status } }`;
const UPDATE = `mutation($id: ID!) { updateDeploymentStatus(id: $id, status: IN_PROGRESS) { id status } }`;
const EVENTS = `subscription { deploymentEvents { id version environment status recordedBy entity { ref } } }`;

/**
 * A graphql-ws client that never retries (every close is reported as is), with the close events and the
 * `connected` (ack) events it saw. `Impl` is the WebSocket implementation.
 */
function client(token, Impl = WebSocket) {
  const seen = { closed: [], acked: 0 };
  const c = createClient({
    url: wsUrl,
    webSocketImpl: Impl,
    lazy: true,
    retryAttempts: 0,
    connectionParams: token === undefined ? undefined : { Authorization: token },
    on: {
      closed: (e) => seen.closed.push({ code: e.code, reason: String(e.reason ?? '') }),
      connected: () => {
        seen.acked += 1;
      },
    },
  });
  return { c, seen };
}

/**
 * Subscribes with `query` and collects what the sink receives: `next` payloads, the error (a CloseEvent
 * or a GraphQL error list) and whether it completed.
 */
function subscribe(c, query) {
  const got = { next: [], error: undefined, complete: false };
  const waiters = new Set();
  const wake = () => waiters.forEach((w) => w());
  const dispose = c.subscribe(
    { query },
    {
      next: (v) => {
        got.next.push(v);
        wake();
      },
      error: (e) => {
        got.error = e;
        wake();
      },
      complete: () => {
        got.complete = true;
        wake();
      },
    },
  );
  /** Resolves once `cond(got)` holds, or rejects after `ms`. */
  const until = (cond, ms = 10_000) =>
    new Promise((resolve, reject) => {
      if (cond(got)) return resolve(got);
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`condition not met within ${ms} ms: ${JSON.stringify(got)}`));
      }, ms);
      const w = () => {
        if (cond(got)) {
          clearTimeout(timer);
          waiters.delete(w);
          resolve(got);
        }
      };
      waiters.add(w);
    });
  return { got, until, dispose };
}

/** Polls `cond` every 50 ms until it holds or `ms` passes (then rejects with `what`). */
async function waitFor(cond, what, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Records deployments until the subscription shows one (it is live only once the server has read the
 * subscribe message, which the client does not report): returns [recorded deployment, event].
 */
async function recordUntilDelivered(sub, prefix) {
  const recorded = new Map();
  const end = Date.now() + 20_000;
  for (let i = 0; Date.now() < end; i += 1) {
    const r = await http(bot, RECORD, { v: `${prefix}.${i}` });
    const d = r?.data?.recordDeployment;
    if (!d) throw new Error(`recordDeployment failed: ${JSON.stringify(r)}`);
    recorded.set(d.version, d);
    try {
      await sub.until((g) => g.next.length > 0 || g.error !== undefined, 200);
    } catch {
      continue;
    }
    const first = sub.got.next[0];
    const event = first?.data?.deploymentEvents;
    return [recorded.get(event?.version), first];
  }
  throw new Error('no deploymentEvents event within 20 s of recording');
}

async function deliversEvents() {
  const { c } = client(`Bearer ${reader}`);
  const sub = subscribe(c, EVENTS);
  const [recorded, payload] = await recordUntilDelivered(sub, '7');
  const e = payload?.data?.deploymentEvents;
  check(
    'subscription-delivers-recorded-deployment',
    recorded !== undefined &&
      payload.errors === undefined &&
      e.id === recorded.id &&
      e.status === 'PENDING' &&
      e.environment === 'staging' &&
      e.recordedBy === 'bot:ci' &&
      e.entity?.ref === 'component:default/artist-lookup',
    JSON.stringify(payload),
  );
  // The same deployment's status change arrives as the next event for that id.
  const u = await http(bot, UPDATE, { id: e.id });
  check('status-update-over-http', u?.data?.updateDeploymentStatus?.status === 'IN_PROGRESS', JSON.stringify(u));
  await sub.until((g) =>
    g.next.some((n) => n.data?.deploymentEvents?.id === e.id && n.data.deploymentEvents.status === 'IN_PROGRESS'),
  );
  check('subscription-delivers-status-change', true, `deployment ${e.id} IN_PROGRESS`);
  sub.dispose();
  await c.dispose();
}

/** Connects with `token` through `Impl`, subscribes, and returns the close event the client reports. */
async function closeOf(token, Impl) {
  const { c, seen } = client(token, Impl);
  const sub = subscribe(c, EVENTS);
  await sub.until((g) => g.error !== undefined || g.complete);
  await waitFor(() => seen.closed.length > 0, 'a close event');
  await c.dispose();
  return { error: sub.got.error, closed: seen.closed[0], acked: seen.acked, next: sub.got.next };
}

async function refusals() {
  for (const [name, token] of [
    ['no-token', undefined],
    ['bad-token', 'Bearer not-a-token'],
    ['not-bearer', reader],
  ]) {
    const r = await closeOf(token);
    check(
      `${name}-closes-4401`,
      r.closed.code === 4401 && r.error?.code === 4401 && r.acked === 0 && r.next.length === 0,
      JSON.stringify(r.closed),
    );
  }

  // A token without catalog:read connects, and the subscription alone is refused.
  const { c, seen } = client(`Bearer ${noScope}`);
  const sub = subscribe(c, EVENTS);
  await sub.until((g) => g.error !== undefined || g.complete || g.next.length > 0);
  const errors = Array.isArray(sub.got.error) ? sub.got.error : sub.got.next[0]?.errors;
  check(
    'no-scope-subscription-forbidden',
    seen.acked === 1 &&
      errors?.length === 1 &&
      errors[0].extensions?.code === 'FORBIDDEN' &&
      /lacks scope catalog:read/.test(errors[0].message) &&
      (sub.got.next[0]?.data ?? null) === null,
    JSON.stringify({ acked: seen.acked, got: sub.got }),
  );
  await c.dispose();

  // Messages the client itself would never send, injected under it.
  const rewriting = (rewrite) =>
    class extends WebSocket {
      send(data, ...rest) {
        for (const d of rewrite(JSON.parse(String(data)), String(data))) super.send(d, ...rest);
      }
    };
  const malformed = rewriting((m, raw) => (m.type === 'subscribe' ? ['{"type": "subscribe", not json'] : [raw]));
  let r = await closeOf(`Bearer ${reader}`, malformed);
  check('malformed-message-closes-4400', r.closed.code === 4400 && r.acked === 1, JSON.stringify(r.closed));
  const twice = rewriting((m, raw) => (m.type === 'connection_init' ? [raw, raw] : [raw]));
  r = await closeOf(`Bearer ${reader}`, twice);
  check('second-connection-init-closes-4429', r.closed.code === 4429 && r.error?.code === 4429, JSON.stringify(r.closed));
}

async function revocation() {
  const { c, seen } = client(`Bearer ${watcher}`);
  const sub = subscribe(c, EVENTS);
  await recordUntilDelivered(sub, '8');
  const r = await http(admin, 'mutation($j: String!) { revokeToken(jti: $j) }', { j: watcherJti });
  if (r?.data?.revokeToken !== true) throw new Error(`revokeToken: ${JSON.stringify(r)}`);
  await http(bot, RECORD, { v: 'after-revocation' });
  await sub.until((g) => g.error !== undefined || g.complete);
  await waitFor(() => seen.closed.length > 0, 'a close event');
  const closed = seen.closed[0];
  const late = sub.got.next.filter((n) => n.data?.deploymentEvents?.version === 'after-revocation');
  check(
    'revoked-token-closes-4403',
    closed.code === 4403 && /revoked/.test(closed.reason) && sub.got.error?.code === 4403 && late.length === 0,
    JSON.stringify(closed),
  );
  await c.dispose();
}

const TASK_EVENTS = `subscription($id: ID!, $after: ID) { taskEvents(taskId: $id, after: $after) { id kind stepId message } }`;

async function taskEvents() {
  const r = await http(taskToken, 'query($id: ID!) { task(id: $id) { status events { nodes { id kind message } } } }', {
    id: taskId,
  });
  const logged = r?.data?.task?.events?.nodes;
  if (!logged?.length) throw new Error(`task ${taskId}: ${JSON.stringify(r)}`);
  const { c } = client(`Bearer ${taskToken}`);
  // Every `next` until the server completes the stream (the global deadline bounds the wait).
  const replay = (variables) => {
    const got = { next: [] };
    return new Promise((resolve, reject) => {
      c.subscribe(
        { query: TASK_EVENTS, variables },
        {
          next: (v) => got.next.push(v),
          error: (e) => reject(new Error(`taskEvents: ${JSON.stringify(e)}`)),
          complete: () => resolve(got.next),
        },
      );
    });
  };
  const events = (await replay({ id: taskId })).map((n) => n.data?.taskEvents);
  check(
    'task-events-replayed-then-complete',
    events.length === logged.length &&
      JSON.stringify(events.map((e) => e?.id)) === JSON.stringify(logged.map((e) => e.id)) &&
      events.at(-1)?.kind === 'completion' &&
      events.at(-1).message === 'completed',
    `${events.length} events, the last ${events.at(-1)?.kind}:${events.at(-1)?.message}`,
  );
  const middle = logged[Math.floor(logged.length / 2)];
  const later = (await replay({ id: taskId, after: middle.id })).map((n) => n.data?.taskEvents?.id);
  const expected = logged.slice(logged.indexOf(middle) + 1).map((e) => e.id);
  check(
    'task-events-after-a-global-id',
    later.length > 0 && JSON.stringify(later) === JSON.stringify(expected),
    `${later.length} events after ${middle.id}`,
  );
  await c.dispose();
}

const started = Date.now();
try {
  await deliversEvents();
  await refusals();
  await revocation();
  if (taskId) await taskEvents();
} catch (e) {
  failures += 1;
  console.log(`FAIL run: ${e?.stack ?? e}`);
}
console.log(`${passed} check(s) passed, ${failures} failed in ${Date.now() - started} ms`);
process.exit(failures === 0 ? 0 : 1);
