#!/usr/bin/env node
// The reference renderer for Greenroom's differential test (tests/it/scaffolder_oracle.rs):
// nunjucks set up the way Backstage's scaffolder sets it up — `${{ }}` as the variable delimiters,
// autoescape off, no loaders, and Backstage's filters (parseRepoUrl, parseEntityRef, pick,
// projectSlug), each called with JSON-copied arguments and giving a JSON-copied result as in
// Backstage's sandbox (the setup lives in nunjucks-backstage.mjs, shared with measure-templates.mjs).
//
//   node nunjucks-oracle.mjs CASES.json   # CASES: [{id, template, context, options?}]
//   (options: {trimBlocks, lstripBlocks, cookiecutterCompat}, as fetch:template takes them)
//
// Output: one JSON line per case, {"id", "ok": rendering} or {"id", "err": message}.

import { readFileSync } from 'node:fs';
import { environment } from './nunjucks-backstage.mjs';

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
