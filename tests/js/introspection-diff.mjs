#!/usr/bin/env node
// Compares what a running Greenroom server says about itself through introspection with the checked-in
// SDL (schema.graphql), as a client's tooling does: graphql-inspector's diff over the schema built from
// the live introspection result (graphql-js buildClientSchema) and the schema built from the SDL.
//
//   node introspection-diff.mjs http://127.0.0.1:8080/graphql ../../schema.graphql
//
// Output: one line per difference (`<criticality> <type>: <message>`), then a summary. Exit status 0 when
// there is none, 1 when there is any (of any criticality), 2 on bad usage.

import { readFileSync } from 'node:fs';
import { buildClientSchema, buildSchema, getIntrospectionQuery } from 'graphql';
import { diff } from '@graphql-inspector/core';

const [url, sdlPath] = process.argv.slice(2);
if (!url || !sdlPath) {
  console.error('usage: node introspection-diff.mjs URL SCHEMA.graphql');
  process.exit(2);
}

const query = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
});
const response = await fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
  body: JSON.stringify({ query }),
  signal: AbortSignal.timeout(10_000),
});
const body = await response.json();
if (!body.data) {
  console.log(`FAIL introspection: ${response.status} ${JSON.stringify(body.errors ?? body)}`);
  process.exit(1);
}

const live = buildClientSchema(body.data);
const checkedIn = buildSchema(readFileSync(sdlPath, 'utf8'));
// graphql-inspector compares `@specifiedBy` as a directive usage on the SDL's AST, which a schema built
// from introspection has not got (it carries the URL as `specifiedByURL`): compare the URLs instead.
const changes = (await diff(checkedIn, live)).filter(
  (c) => !(c.type.startsWith('DIRECTIVE_USAGE_SCALAR_') && c.message.includes("'specifiedBy'")),
);
for (const c of changes) {
  console.log(`${c.criticality.level} ${c.type}: ${c.message}`);
}
for (const [name, type] of Object.entries(checkedIn.getTypeMap())) {
  const other = live.getType(name);
  if (type.specifiedByURL !== undefined || other?.specifiedByURL !== undefined) {
    if ((type.specifiedByURL ?? null) !== (other?.specifiedByURL ?? null)) {
      console.log(
        `DANGEROUS SCALAR_SPECIFIED_BY: ${name} is specified by ${JSON.stringify(other?.specifiedByURL ?? null)} ` +
          `live, ${JSON.stringify(type.specifiedByURL ?? null)} in the SDL`,
      );
      changes.push({});
    }
  }
}
// graphql-inspector does not compare the schema's own description: a client sees it in GraphiQL's docs.
const liveDescription = body.data.__schema.description ?? null;
const sdlDescription = checkedIn.description ?? null;
let differences = changes.length;
if (liveDescription !== sdlDescription) {
  console.log(
    `DANGEROUS SCHEMA_DESCRIPTION: the schema's description is ${JSON.stringify(liveDescription)} live, ` +
      `${JSON.stringify(sdlDescription)} in the SDL`,
  );
  differences += 1;
}
console.log(`${differences} difference(s) between live introspection and ${sdlPath}`);
process.exit(differences === 0 ? 0 : 1);
