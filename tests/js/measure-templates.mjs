#!/usr/bin/env node
// Measures Greenroom against a directory of git checkouts of real Backstage templates (issue 17):
// starts the `greenroom` binary on a fresh SQLite database (dev mode, 127.0.0.1, github/gitlab integrations for
// every host the templates' RepoUrlPickers allow, a seed catalog of the entities the values name),
// and for each `scaffolder.backstage.io/v1beta3` Template registers its file as a git location (as
// Backstage reads templates from their repository), derives parameter values from its schema
// (template-values.mjs), runs `dryRunTemplate`, and compares every skeleton file its `fetch:template`
// steps render with what nunjucks set up the Backstage way renders with the same values
// (skeleton-render.mjs).
//
//   node measure-templates.mjs --greenroom target/debug/greenroom CORPUS_DIR [--json report.json]
//                              [--mirrors MIRROR_DIR]
//
// --mirrors serves the bare git mirrors under MIRROR_DIR (OWNER+REPO/repo) offline to both sides: Greenroom
// fetches skeletons named by `https://github.com/…` URLs from them through git's URL rewriting, and
// nunjucks renders the remote `fetch:template` skeletons from them too (git-mirrors.mjs).
//
// Prints the templates found, the dry-run completion rate (of all, and of those Backstage's own
// rendering completes without a remote skeleton), the files rendered, the byte-identical rate, and
// histograms of failure reasons and differences; --json writes every template's details.

import { mkdtempSync, writeFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { templateValues, repoHosts } from './template-values.mjs';
import { renderSkeletons } from './skeleton-render.mjs';
import { DEFAULT_INTEGRATIONS } from './nunjucks-backstage.mjs';
import { startMirrors } from './git-mirrors.mjs';

function args() {
  const a = process.argv.slice(2);
  const opt = (name) => {
    const i = a.indexOf(name);
    return i >= 0 ? a.splice(i, 2)[1] : undefined;
  };
  const greenroom = opt('--greenroom');
  const json = opt('--json');
  const mirrors = opt('--mirrors');
  if (!greenroom || a.length !== 1) {
    console.error('usage: measure-templates.mjs --greenroom PATH CORPUS_DIR [--json OUT] [--mirrors DIR]');
    process.exit(2);
  }
  return { greenroom, json, mirrors: mirrors && path.resolve(mirrors), corpus: path.resolve(a[0]) };
}

function yamlFiles(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== '.git' && e.name !== 'node_modules') yamlFiles(p, out);
    else if (e.isFile() && /\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out;
}

// Every v1beta3 Template document of the corpus: [{file, doc}].
function templates(corpus) {
  const found = [];
  for (const file of yamlFiles(corpus).sort()) {
    const text = readFileSync(file, 'utf8');
    if (!/scaffolder\.backstage\.io\/v1beta3/.test(text)) continue;
    let docs;
    try {
      docs = YAML.parseAllDocuments(text);
    } catch {
      continue;
    }
    // Backstage's catalog refuses a file with a YAML error (it checks each document's errors).
    const yamlError = docs.flatMap((d) => d.errors ?? [])[0]?.message?.split('\n')[0];
    for (const doc of docs.map((d) => d.toJS())) {
      if (doc?.apiVersion === 'scaffolder.backstage.io/v1beta3' && doc?.kind === 'Template') found.push({ file, doc, yamlError });
    }
  }
  return found;
}

function integrationsFor(found) {
  const hosts = { ...DEFAULT_INTEGRATIONS };
  for (const { doc } of found) {
    for (const h of repoHosts(doc.spec?.parameters)) if (!hosts[h]) hosts[h] = /gitlab/i.test(h) ? 'gitlab' : 'github';
  }
  return hosts;
}

// Entities the derived values and the templates' literal catalog:fetch refs name, so that
// catalog:fetch finds them (a user picks entities that exist).
function seed(dir, found) {
  const refs = new Set(['component:default/example', 'system:default/example', 'domain:default/example',
    'resource:default/example', 'api:default/example', 'group:default/team-a', 'group:default/example']);
  for (const { doc } of found) {
    for (const step of doc.spec?.steps ?? []) {
      const r = step.action === 'catalog:fetch' ? step.input?.entityRef : undefined;
      if (typeof r === 'string' && !r.includes('${{') && /^[a-z]+:/i.test(r)) refs.add(r.includes('/') ? r : r.replace(':', ':default/'));
    }
  }
  const spec = {
    component: { type: 'service', lifecycle: 'production', owner: 'group:default/team-a', system: 'example' },
    system: { owner: 'group:default/team-a', domain: 'example' },
    domain: { owner: 'group:default/team-a', platformTarget: 'example' },
    api: { type: 'openapi', lifecycle: 'production', owner: 'group:default/team-a', definition: 'openapi: 3.0.0' },
    group: { type: 'team', children: [] },
  };
  const docs = [...refs].map((ref) => {
    const [, kind, namespace, name] = ref.match(/^([^:]+):([^/]+)\/(.+)$/);
    const k = kind.toLowerCase();
    const Kind = k === 'api' ? 'API' : k[0].toUpperCase() + k.slice(1);
    return { apiVersion: 'backstage.io/v1alpha1', kind: Kind, metadata: { name, namespace },
      spec: spec[k] ?? { type: 'example', owner: 'group:default/team-a' } };
  });
  const file = path.join(dir, 'seed.yaml');
  writeFileSync(file, docs.map((d) => YAML.stringify(d)).join('---\n'));
  return { file, refs: [...refs] };
}

// The seeded entities as Backstage's catalog API serves them (what catalog:fetch outputs), by ref.
async function catalogEntities(url, refs) {
  const out = {};
  for (const ref of refs) {
    const [, kind, ns, name] = ref.match(/^([^:]+):([^/]+)\/(.+)$/);
    const r = await fetch(`${url}/api/catalog/entities/by-name/${kind}/${ns}/${name}`);
    if (r.ok) out[ref.toLowerCase()] = await r.json();
  }
  return out;
}

function config(dir, roots, integrations, seedFile, mirrorHost) {
  const of = (type) => Object.entries(integrations).filter(([, t]) => t === type)
    .map(([host]) => `    - {host: "${host}", token: measure-token}`).join('\n');
  const kinds = 'Component, API, Location, System, Domain, Resource, Template, Group, User';
  const text = `server:\n  listen: 127.0.0.1:0\n  limits: {rateLimitPerSecond: 0, requestTimeout: 120s}\n` +
    `database:\n  url: sqlite://${dir}/measure.db?mode=rwc\n` +
    `catalog:\n  rules:\n    - allow: [${kinds}]\n  locations:\n    - {type: file, target: '${seedFile}'}\n` +
    `  allow:\n    files: [${roots.map((r) => `'${r}'`).join(', ')}]\n` +
    (mirrorHost ? `    hosts: ['${mirrorHost}']\n` : '') +
    `integrations:\n  github:\n${of('github')}\n  gitlab:\n${of('gitlab')}\n`;
  const file = path.join(dir, 'greenroom.yaml');
  writeFileSync(file, text);
  return file;
}

async function start(exe, configFile, gitEnv = {}) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GREENROOM_')));
  const child = spawn(exe, ['--config', configFile, 'serve'], { env: { ...env, ...gitEnv, RUST_LOG: 'error' }, stdio: ['ignore', 'pipe', 'inherit'] });
  // Keep reading stdout after the listening line, so the server never writes to a closed pipe.
  const lines = createInterface({ input: child.stdout });
  return new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      const m = line.match(/^listening on (http:\/\/\S+)/);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`greenroom exited (${code})`)));
  });
}

async function gql(url, query, variables) {
  const r = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return r.json();
}

const REGISTER = `mutation($t: String!) { registerLocation(input: {type: "git", target: $t}) { location { id } errors } }`;

// The git location of a template file: `file://REPO#BRANCH:PATH` of the checkout holding it, read
// as Backstage reads templates registered from a repository (skeletons may climb to its root).
function gitRoot(file) {
  return execFileSync('git', ['-C', path.dirname(file), 'rev-parse', '--show-toplevel'], { encoding: 'utf8' }).trim();
}

function gitTarget(file) {
  const run = (...a) => execFileSync('git', ['-C', path.dirname(file), ...a], { encoding: 'utf8' }).trim();
  const root = gitRoot(file);
  return `file://${root}#${run('rev-parse', '--abbrev-ref', 'HEAD')}:${path.relative(root, file)}`;
}
const SPEC = `query($r: String!) { entity(ref: $r) { spec } }`;
const UNREGISTER = `mutation($id: ID!) { unregisterLocation(id: $id) }`;
const DRY_RUN = `mutation($t: String!, $v: JSON!) { dryRunTemplate(input: {templateRef: $t, values: $v}) { status log files { path content } } }`;

// A failure's reason with the run's specifics (names, paths, numbers) blurred, for the histogram.
function reason(text) {
  return String(text).replace(/\/tmp\/\S+|\/work\/\S+/g, 'PATH').replace(/"[^"]*"|'[^']*'|`[^`]*`/g, 'X')
    .replace(/\d+/g, 'N').slice(0, 160);
}

function failure(result) {
  if (result.errors) return `graphql: ${result.errors[0]?.message} ${JSON.stringify(result.errors[0]?.extensions?.fields ?? '')}`;
  const log = result.data.dryRunTemplate.log;
  const end = log.findIndex((l) => / step_end: failed$/.test(l));
  const line = end > 0 ? log[end - 1] : log[log.length - 1];
  return line ?? 'failed without a log';
}

function compare(expected, files, status, record) {
  const got = new Map(files.map((f) => [f.path, f.content]));
  for (const f of expected.files) {
    record.rendered += 1;
    if (!got.has(f.path)) {
      record.missing.push(f.path);
    } else if (got.get(f.path) === f.text) {
      record.identical += 1;
    } else {
      const a = (got.get(f.path) ?? '').split('\n');
      const b = f.text.split('\n');
      const i = a.findIndex((l, n) => l !== b[n]);
      record.differing.push({ path: f.path, source: f.source, line: i + 1, greenroom: a[i], nunjucks: b[i] });
    }
  }
  if (status !== 'COMPLETED' && record.missing.length) record.missingAfterFailure = true;
}

async function measure(url, { file, doc, yamlError }, { integrations, catalog, remote }) {
  const name = `template:${doc.metadata?.namespace ?? 'default'}/${doc.metadata?.name}`;
  const record = { file, ref: name, rendered: 0, identical: 0, differing: [], missing: [] };
  if (yamlError) record.nunjucksError = `Backstage's catalog would not read the file: ${yamlError}`;
  const reg = await gql(url, REGISTER, { t: gitTarget(file) });
  const id = reg.data?.registerLocation?.location?.id;
  try {
    if (!id || reg.data.registerLocation.errors.length) {
      record.failure = `not loaded: ${reg.errors?.[0]?.message ?? reg.data?.registerLocation?.errors?.[0]}`;
      return record;
    }
    // The spec as Greenroom read it: `$yaml`/`$text` placeholders resolved, as Backstage resolves them.
    const spec = (await gql(url, SPEC, { r: name })).data?.entity?.spec ?? doc.spec ?? {};
    const values = templateValues(spec.parameters);
    record.values = values;
    // Rendered first: with --mirrors, this serves the repositories the skeleton URLs name.
    const expected = await renderSkeletons(spec, values, path.dirname(file), { integrations, catalog, remote, user: { ref: 'dev', entity: null } });
    const r = await gql(url, DRY_RUN, { t: name, v: values });
    const status = r.data?.dryRunTemplate?.status;
    record.status = status ?? 'ERROR';
    if (status !== 'COMPLETED') {
      record.failure = failure(r);
      record.log = r.data?.dryRunTemplate?.log;
    }
    record.copied = expected.copied;
    record.remote = expected.remote;
    if (expected.error) record.nunjucksError ??= expected.error;
    compare(expected, r.data?.dryRunTemplate?.files ?? [], status, record);
    return record;
  } finally {
    if (id) await gql(url, UNREGISTER, { id });
  }
}

function histogram(items) {
  const h = new Map();
  for (const i of items) h.set(i, (h.get(i) ?? 0) + 1);
  return [...h.entries()].sort((a, b) => b[1] - a[1]);
}

function report(records) {
  const pct = (a, b) => (b ? ((100 * a) / b).toFixed(1) : '-');
  const done = records.filter((r) => r.status === 'COMPLETED').length;
  const rendered = records.reduce((n, r) => n + r.rendered, 0);
  const identical = records.reduce((n, r) => n + r.identical, 0);
  const missing = records.reduce((n, r) => n + r.missing.length, 0);
  console.log(`templates: ${records.length}`);
  console.log(`dry runs completed: ${done}/${records.length} (${pct(done, records.length)}%)`);
  console.log(`skeleton files rendered by nunjucks: ${rendered} (copied unrendered: ${records.reduce((n, r) => n + (r.copied ?? 0), 0)}; remote skeletons, not fetched here, in ${records.filter((r) => r.remote).length} templates)`);
  console.log(`byte-identical: ${identical}/${rendered} (${pct(identical, rendered)}%); missing in Greenroom's dry run: ${missing}`);
  const backstageFails = records.filter((r) => r.nunjucksError);
  console.log(`nunjucks itself fails (as Backstage's step would: an unknown filter, a missing skeleton) in ${backstageFails.length} templates`);
  const runnable = records.filter((r) => !r.nunjucksError && !r.remote);
  const runnableDone = runnable.filter((r) => r.status === 'COMPLETED').length;
  console.log(`dry runs completed of the ${runnable.length} templates Backstage's own rendering completes without fetching a remote skeleton: ${runnableDone} (${pct(runnableDone, runnable.length)}%)`);
  console.log('\ndry-run failure reasons:');
  for (const [r, n] of histogram(records.filter((r) => r.failure).map((r) => reason(r.failure)))) console.log(`  ${n}  ${r}`);
  console.log('\ndiffering files (greenroom line | nunjucks line):');
  const diffs = records.flatMap((r) => r.differing.map((d) => `${reason(d.greenroom ?? '<eof>')} | ${reason(d.nunjucks ?? '<eof>')}`));
  for (const [d, n] of histogram(diffs).slice(0, 40)) console.log(`  ${n}  ${d}`);
}

const { greenroom, json, corpus, mirrors: mirrorDir } = args();
const found = templates(corpus);
const integrations = integrationsFor(found);
const dir = mkdtempSync(path.join(os.tmpdir(), 'greenroom-measure-'));
const seeded = seed(dir, found);
const roots = [...new Set(found.map((t) => gitRoot(t.file)))];
const mirrors = mirrorDir ? await startMirrors(mirrorDir) : undefined;
const configFile = config(dir, roots, integrations, seeded.file, mirrors?.host);
let server = await start(greenroom, configFile, mirrors?.gitEnv);
const catalog = await catalogEntities(server.url, seeded.refs);
const records = [];
try {
  for (const t of found) {
    if (process.env.MEASURE_VERBOSE) console.error(t.file);
    try {
      records.push(await measure(server.url, t, { integrations, catalog, remote: mirrors?.serve }));
    } catch (error) {
      // The server stopped (a crash is a finding too): record it, start a fresh one, go on.
      records.push({ file: t.file, rendered: 0, identical: 0, differing: [], missing: [], status: 'ERROR',
        failure: `server stopped: ${error?.cause?.code ?? error}` });
      server.child.kill('SIGKILL');
      server = await start(greenroom, configFile, mirrors?.gitEnv);
    }
  }
} finally {
  server.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
report(records);
if (mirrors) {
  console.log(`\nserved from mirrors: ${[...mirrors.mirrored].sort().join(', ') || 'none'}`);
  console.log(`served as seeded stand-ins (repositories the derived values name): ${[...mirrors.standIns].sort().join(', ') || 'none'}`);
  mirrors.close();
}
if (json) writeFileSync(json, JSON.stringify(records, null, 1));
