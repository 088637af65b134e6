#!/usr/bin/env node
// The reference evaluator for Greenroom's JSONata differential test (tests/it/jsonata_oracle.rs):
// the npm `jsonata` package (the engine Roadie's `roadiehq:utils:jsonata*` actions call), each result
// copied through JSON as a step output is.
//
//   node jsonata-oracle.mjs CASES.json   # CASES: [{id, expression, data}]
//
// Output: one JSON line per case: {"id", "ok": value}, {"id", "undefined": true} or {"id", "err": code}.

import { readFileSync } from 'node:fs';
import jsonata from 'jsonata';

const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));
for (const c of cases) {
  let line;
  try {
    const result = await jsonata(c.expression).evaluate(c.data);
    line =
      result === undefined
        ? { id: c.id, undefined: true }
        : { id: c.id, ok: JSON.parse(JSON.stringify(result)) };
  } catch (error) {
    line = { id: c.id, err: String(error?.code ?? error?.message ?? error) };
  }
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
