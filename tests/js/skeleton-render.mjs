// What Backstage's `fetch:template` would write for a template's steps, rendered with nunjucks set up
// the Backstage way (used by measure-templates.mjs): each step's input rendered as the task runner
// renders it (`if`, `each`), then every skeleton entry as the action treats it — `templateFileExtension`,
// `copyWithoutRender`/`copyWithoutTemplating` globs (dot files match, a directory covers its files),
// paths with an empty segment left out, binary files and links copied, the first fetch of a path wins
// unless `replace`; later fs:rename/fs:delete steps move and remove them, catalog:fetch and publishing
// steps output what a dry run's do. Only rendered text files are returned; copies are counted.

import { readdirSync, readFileSync, lstatSync, existsSync } from 'node:fs';
import path from 'node:path';
import jsonata from 'jsonata';
import { environment, renderInput } from './nunjucks-backstage.mjs';

function globRegex(pattern) {
  let p = pattern.replace(/^\.\//, '').replace(/\/+$/, '');
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '*' && p[i + 1] === '*') {
      re += p[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += p[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '{') {
      const end = p.indexOf('}', i);
      if (end < 0) re += '\\{';
      else {
        re += `(?:${p.slice(i + 1, end).split(',').map((s) => s.replace(/[.+^$()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')).join('|')})`;
        i = end;
      }
    } else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}(?:/.*)?$`);
}

function walk(root, dir = '', out = []) {
  let entries;
  try {
    entries = readdirSync(path.join(root, dir), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory()) walk(root, rel, out);
    else out.push(rel);
  }
  return out.sort();
}

function isBinary(bytes) {
  if (bytes.subarray(0, 8000).includes(0)) return true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return false;
  } catch {
    return true;
  }
}

const truthy = (v) => (Array.isArray(v) ? v.length > 0 : !!v);

function extensionOf(input) {
  const e = input.templateFileExtension;
  if (e === true) return '.njk';
  if (typeof e === 'string' && e) return e.startsWith('.') ? e : `.${e}`;
  return undefined;
}

// One fetch:template run: appends {path, text, source} to `out.files`, counts copies.
function fetchTemplate(input, templateDir, { integrations, remote }, written, out) {
  const url = input.url;
  if (typeof url !== 'string') return;
  let skeleton;
  if (/^[a-z]+:\/\//i.test(url)) {
    skeleton = remote?.(url);
    if (!skeleton) {
      out.remote += 1;
      return;
    }
  } else {
    skeleton = path.resolve(templateDir, url);
  }
  if (!existsSync(skeleton)) throw new Error(`the skeleton ${url} does not exist`);
  const ext = extensionOf(input);
  const patterns = (input.copyWithoutTemplating ?? input.copyWithoutRender ?? []).map(globRegex);
  const renderPaths = !input.copyWithoutRender;
  const env = environment({
    trimBlocks: !!input.trimBlocks,
    lstripBlocks: !!input.lstripBlocks,
    cookiecutterCompat: !!input.cookiecutterCompat,
    integrations,
  });
  const context = { [input.cookiecutterCompat ? 'cookiecutter' : 'values']: input.values };
  const target = typeof input.targetPath === 'string' ? input.targetPath : '.';
  for (const rel of walk(skeleton)) {
    let render;
    let local = rel;
    if (ext) {
      render = path.extname(rel) === ext;
      if (render) local = rel.slice(0, -ext.length);
      local = env.renderString(local, context);
    } else {
      render = !patterns.some((re) => re.test(rel));
      if (render || renderPaths) local = env.renderString(local, context);
    }
    if (local === '' || local.startsWith('/') || local.includes('//')) continue;
    const outPath = path.posix.normalize(path.posix.join(target, local)).replace(/^\.\//, '');
    if (written.has(outPath) && !input.replace) continue;
    written.add(outPath);
    const full = path.join(skeleton, rel);
    if (lstatSync(full).isSymbolicLink()) continue;
    const bytes = readFileSync(full);
    if (!render || isBinary(bytes)) {
      out.copied += 1;
      continue;
    }
    out.files.push({ path: outPath, source: `${url}/${rel}`, text: env.renderString(bytes.toString('utf8'), context) });
  }
}

// One fetch:plain run: nothing to render, but its files exist for the fetch:template steps after it
// (which keep an existing file unless `replace`).
function fetchPlain(input, templateDir, remote, written, out) {
  const url = input.url ?? '.';
  if (typeof url !== 'string') return;
  let skeleton = path.resolve(templateDir, url);
  if (/^[a-z]+:\/\//i.test(url)) {
    skeleton = remote?.(url);
    if (!skeleton) {
      out.remote += 1;
      return;
    }
  }
  if (!existsSync(skeleton)) throw new Error(`the skeleton ${url} does not exist`);
  const target = typeof input.targetPath === 'string' ? input.targetPath : '.';
  for (const rel of walk(skeleton)) written.add(path.posix.normalize(path.posix.join(target, rel)).replace(/^\.\//, ''));
}

// Any output of a step a dry run skips (publish:*, catalog:register) is `<example>`, as Backstage's.
const EXAMPLE = new Proxy({}, { get: (_t, k) => (typeof k === 'string' && k !== 'toJSON' ? '<example>' : undefined) });

// What a step other than fetch:template outputs, and does to the files written so far: catalog:fetch
// reads `catalog` (ref → entity), publishing steps give examples, `roadiehq:utils:jsonata` evaluates its
// expression with npm jsonata (as Roadie's action does, in dry runs too), fs:rename and fs:delete move
// and remove files.
async function otherStep(step, input, { catalog }, out) {
  const ref = (r) => {
    if (typeof r !== 'string') return undefined;
    let full = r.includes(':') ? r : `${input.defaultKind ?? ''}:${r}`;
    if (!full.includes('/')) full = full.replace(':', `:${input.defaultNamespace ?? 'default'}/`);
    return catalog[full.toLowerCase()] ?? null;
  };
  if (step.action === 'catalog:fetch') {
    // Backstage's catalog:fetch fails with neither input (unless optional), as Greenroom's does.
    if (!input.entityRef && !input.entityRefs && !input.optional) throw new Error('Missing entity reference or references');
    return { entity: ref(input.entityRef), entities: (input.entityRefs ?? []).map(ref) };
  }
  if (step.action.startsWith('publish:') || step.action === 'catalog:register') return EXAMPLE;
  if (step.action === 'roadiehq:utils:jsonata') {
    const result = await jsonata(String(input.expression)).evaluate(input.data);
    return result === undefined ? {} : { result: JSON.parse(JSON.stringify(result)) };
  }
  if (step.action === 'fs:rename') {
    const clean = (p) => path.posix.normalize(String(p)).replace(/^\.\//, '').replace(/\/$/, '');
    for (const file of input.files ?? []) {
      const [from, to] = [clean(file.from), clean(file.to)];
      for (const f of out.files) {
        if (f.path === from) f.path = to;
        else if (f.path.startsWith(`${from}/`)) f.path = `${to}/${f.path.slice(from.length + 1)}`;
      }
    }
  }
  if (step.action === 'fs:delete') {
    const gone = (input.files ?? []).map((g) => globRegex(String(g).replace(/^\.\//, '')));
    out.files = out.files.filter((f) => !gone.some((re) => re.test(f.path)));
  }
  return {};
}

/// The files Backstage's fetch:template steps of `spec` render, with parameter `values`:
/// `{files: [{path, source, text}], copied, remote, error}` (`error`: nunjucks failed, as the step would);
/// `remote(url)`, when given, is the local directory of a skeleton named by URL (a served mirror).
export async function renderSkeletons(spec, values, templateDir, { integrations, user, catalog = {}, remote }) {
  const out = { files: [], copied: 0, remote: 0, error: undefined };
  const env = environment({ integrations });
  const steps = {};
  const written = new Set();
  for (const step of spec.steps ?? []) {
    const context = { parameters: values, steps, user, context: { task: { id: 'dry-run' } } };
    try {
      if (step.if !== undefined) {
        const cond = typeof step.if === 'string' ? renderInput(env, step.if, context) : step.if;
        if (!truthy(cond)) continue;
      }
      const runs = step.each === undefined ? [undefined] : Object.entries(renderInput(env, step.each, context) ?? {});
      let output = {};
      for (const run of runs) {
        const ctx = run ? { ...context, each: { key: run[0], value: run[1] } } : context;
        const input = renderInput(env, step.input ?? {}, ctx);
        if (step.action === 'fetch:template') fetchTemplate(input, templateDir, { integrations, remote }, written, out);
        else if (step.action === 'fetch:plain') fetchPlain(input, templateDir, remote, written, out);
        else output = await otherStep(step, input, { catalog }, out);
      }
      if (step.id) steps[step.id] = { output };
    } catch (error) {
      out.error = `${step.id ?? step.action}: ${String(error?.message ?? error).split('\n')[0]}`;
      return out;
    }
  }
  return out;
}
