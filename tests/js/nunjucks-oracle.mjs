#!/usr/bin/env node
// The reference renderer for Greenroom's differential test (tests/it/scaffolder_oracle.rs):
// nunjucks set up the way Backstage's scaffolder sets it up — `${{ }}` as the variable delimiters,
// autoescape off, no loaders, and Backstage's filters (parseRepoUrl, parseEntityRef, pick,
// projectSlug), each called with JSON-copied arguments and giving a JSON-copied result as in
// Backstage's sandbox.
//
//   node nunjucks-oracle.mjs CASES.json   # CASES: [{id, template, context, options?}]
//   (options: {trimBlocks, lstripBlocks, cookiecutterCompat}, as fetch:template takes them)
//
// Output: one JSON line per case, {"id", "ok": rendering} or {"id", "err": message}.

import { readFileSync } from 'node:fs';
import nunjucks from 'nunjucks';
import get from 'lodash/get.js';
import { parseEntityRef } from '@backstage/catalog-model';

// Backstage's default integrations (ScmIntegrations without config), by host.
const INTEGRATIONS = {
  'github.com': 'github',
  'gitlab.com': 'gitlab',
  'bitbucket.org': 'bitbucket',
  'dev.azure.com': 'azure',
};

function parseRepoUrl(repoUrl) {
  let parsed;
  try {
    parsed = new URL(`https://${repoUrl}`);
  } catch (error) {
    throw new Error(`Invalid repo URL passed to publisher, got ${repoUrl}, ${error}`);
  }
  const host = parsed.host;
  const type = INTEGRATIONS[host];
  if (!type) {
    throw new Error(`No matching integration configuration for host ${host}, please check your integrations config`);
  }
  const param = (name) => {
    if (!parsed.searchParams.has(name)) return undefined;
    return parsed.searchParams.get(name).replace(/^\/+|\/+$/g, '');
  };
  const need = (...names) => {
    for (const n of names) {
      if (!param(n)) throw new Error(`Invalid repo URL passed to publisher: ${parsed}, missing ${n}`);
    }
  };
  if (type === 'bitbucket') {
    if (host === 'www.bitbucket.org') need('workspace');
    need('project', 'repo');
  } else if (type === 'azure') need('project', 'repo');
  else if (type === 'gitlab') {
    if (!param('project')) need('owner', 'repo');
  } else need('repo', 'owner');
  const out = { host };
  for (const k of ['owner', 'repo', 'organization', 'workspace', 'project']) out[k] = param(k);
  return out;
}

const filters = {
  parseRepoUrl: (url) => parseRepoUrl(url),
  parseEntityRef: (ref, context) => parseEntityRef(ref, context),
  pick: (obj, key) => get(obj, key),
  projectSlug: (url) => {
    const { owner, repo } = parseRepoUrl(url);
    return `${owner}/${repo}`;
  },
};

// fetch:template's `trimBlocks` and `lstripBlocks` inputs are nunjucks options of the same names;
// `cookiecutterCompat` keeps nunjucks' own `{{ }}` variables and adds a `jsonify` filter.
function environment({ trimBlocks = false, lstripBlocks = false, cookiecutterCompat = false } = {}) {
  const env = new nunjucks.Environment([], {
    autoescape: false,
    ...(cookiecutterCompat ? {} : { tags: { variableStart: '${{', variableEnd: '}}' } }),
    trimBlocks,
    lstripBlocks,
  });
  if (cookiecutterCompat) env.addFilter('jsonify', (s) => JSON.stringify(s));
  for (const [name, filter] of Object.entries(filters)) {
    // As in Backstage's sandbox: the arguments and the result cross a JSON boundary.
    env.addFilter(name, (...args) => JSON.parse(JSON.stringify(filter(...JSON.parse(JSON.stringify(args))))));
  }
  return env;
}
const plain = environment();

const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));
for (const c of cases) {
  let line;
  try {
    const env = c.options ? environment(c.options) : plain;
    line = { id: c.id, ok: env.renderString(c.template, c.context ?? {}) };
  } catch (error) {
    line = { id: c.id, err: String(error?.message ?? error) };
  }
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
