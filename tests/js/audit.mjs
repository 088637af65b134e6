#!/usr/bin/env node
// GraphQL over HTTP conformance audit of a running Greenroom server, using the audit suite of
// graphql-http (https://github.com/graphql/graphql-http).
//
//   cd tests/js && npm ci
//   node audit.mjs http://127.0.0.1:8080/graphql            # one line per audit + summary
//   node audit.mjs http://127.0.0.1:8080/graphql --verbose  # also the response of every non-PASS audit
//
// Extra request headers (e.g. a token when the server has auth configured) come from
// GRAPHQL_AUDIT_AUTHORIZATION: GRAPHQL_AUDIT_AUTHORIZATION="Bearer $TOKEN" node audit.mjs URL
//
// Output: `PASS|WARN|FAIL <id> <name>[ -- <reason>]`. A failed MUST audit is FAIL; a failed SHOULD or
// MAY audit is WARN. An audit that could not run at all (network error, timeout, ...) is FAIL too.
// Exit status: 0 when every MUST audit passes, 1 when any MUST audit fails (or any audit could not
// run), 2 on bad usage.

import { serverAudits } from 'graphql-http';

const args = process.argv.slice(2);
const verbose = args.includes('--verbose') || args.includes('-v');
const positional = args.filter((a) => !a.startsWith('-'));
if (positional.length !== 1) {
  console.error('usage: node audit.mjs URL [--verbose]   (e.g. http://127.0.0.1:8080/graphql)');
  process.exit(2);
}
const url = positional[0];
try {
  new URL(url);
} catch {
  console.error(`not a URL: ${url}`);
  process.exit(2);
}

const PER_REQUEST_TIMEOUT_MS = 10_000;
const authorization = process.env.GRAPHQL_AUDIT_AUTHORIZATION;

// fetch with a timeout per request (a hung server must not hang the audit) and an optional
// Authorization header.
function fetchFn(input, init = {}) {
  const headers = new Headers(init.headers ?? {});
  if (authorization && !headers.has('authorization')) headers.set('authorization', authorization);
  return fetch(input, {
    ...init,
    headers,
    signal: init.signal ?? AbortSignal.timeout(PER_REQUEST_TIMEOUT_MS),
  });
}

async function describeResponse(res) {
  if (!res) return '    (no response)';
  const lines = [`    response: HTTP ${res.status} ${res.statusText}`];
  for (const [k, v] of res.headers) lines.push(`      ${k}: ${v}`);
  try {
    let body = await res.clone().text();
    if (body.length > 600) body = `${body.slice(0, 600)}... (${body.length} chars)`;
    lines.push(`    body: ${body === '' ? '(empty)' : body}`);
  } catch (err) {
    lines.push(`    body: (unreadable: ${err?.message ?? err})`);
  }
  return lines.join('\n');
}

const counts = { pass: 0, mustFail: 0, shouldWarn: 0, mayWarn: 0, fatal: 0 };
const audits = serverAudits({ url, fetchFn });

for (const audit of audits) {
  let result;
  try {
    result = await audit.fn();
  } catch (err) {
    // graphql-http throws (instead of returning a result) when the audit could not be performed.
    counts.fatal++;
    const cause = err?.cause ? ` (cause: ${err.cause.code ?? err.cause.message ?? err.cause})` : '';
    console.log(`FAIL ${audit.id} ${audit.name} -- audit could not run: ${err?.message ?? err}${cause}`);
    continue;
  }
  if (result.status === 'ok') {
    counts.pass++;
    console.log(`PASS ${result.id} ${result.name}`);
    continue;
  }
  const isMust = result.name.startsWith('MUST');
  if (isMust) counts.mustFail++;
  else if (result.name.startsWith('SHOULD')) counts.shouldWarn++;
  else counts.mayWarn++;
  console.log(`${isMust ? 'FAIL' : 'WARN'} ${result.id} ${result.name} -- ${result.reason}`);
  if (verbose) console.log(await describeResponse(result.response));
}

console.log('');
console.log(
  `${audits.length} audits against ${url}: ${counts.pass} passed, ` +
    `${counts.mustFail} MUST failure(s), ` +
    `${counts.shouldWarn + counts.mayWarn} warning(s) (${counts.shouldWarn} SHOULD, ${counts.mayWarn} MAY)` +
    (counts.fatal ? `, ${counts.fatal} audit(s) could not run` : ''),
);

process.exit(counts.mustFail > 0 || counts.fatal > 0 ? 1 : 0);
