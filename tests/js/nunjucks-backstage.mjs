// nunjucks set up the way Backstage's scaffolder sets it up, shared by the differential oracle
// (nunjucks-oracle.mjs) and the template measurement (measure-templates.mjs): `${{ }}` as the
// variable delimiters, autoescape off, no loaders, Backstage's filters (parseRepoUrl, parseEntityRef,
// pick, projectSlug) called with JSON-copied arguments and giving a JSON-copied result as in
// Backstage's sandbox, and the task runner's rendering of step inputs (`renderInput`).

import nunjucks from 'nunjucks';
import get from 'lodash/get.js';
import { parseEntityRef } from '@backstage/catalog-model';

// Backstage's default integrations (ScmIntegrations without config), by host.
export const DEFAULT_INTEGRATIONS = {
  'github.com': 'github',
  'gitlab.com': 'gitlab',
  'bitbucket.org': 'bitbucket',
  'dev.azure.com': 'azure',
};

function repoUrlParser(integrations) {
  return (repoUrl) => {
    let parsed;
    try {
      parsed = new URL(`https://${repoUrl}`);
    } catch (error) {
      throw new Error(`Invalid repo URL passed to publisher, got ${repoUrl}, ${error}`);
    }
    const host = parsed.host;
    const type = integrations[host];
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
  };
}

function filters(integrations) {
  const parseRepoUrl = repoUrlParser(integrations);
  return {
    parseRepoUrl: (url) => parseRepoUrl(url),
    parseEntityRef: (ref, context) => parseEntityRef(ref, context),
    pick: (obj, key) => get(obj, key),
    projectSlug: (url) => {
      const { owner, repo } = parseRepoUrl(url);
      return `${owner}/${repo}`;
    },
  };
}

// fetch:template's `trimBlocks` and `lstripBlocks` inputs are nunjucks options of the same names;
// `cookiecutterCompat` keeps nunjucks' own `{{ }}` variables and adds a `jsonify` filter.
// `integrations` (host → type) replaces Backstage's defaults for parseRepoUrl and projectSlug.
export function environment({
  trimBlocks = false,
  lstripBlocks = false,
  cookiecutterCompat = false,
  integrations = DEFAULT_INTEGRATIONS,
} = {}) {
  const env = new nunjucks.Environment([], {
    autoescape: false,
    ...(cookiecutterCompat ? {} : { tags: { variableStart: '${{', variableEnd: '}}' } }),
    trimBlocks,
    lstripBlocks,
  });
  if (cookiecutterCompat) env.addFilter('jsonify', (s) => JSON.stringify(s));
  for (const [name, filter] of Object.entries(filters(integrations))) {
    // As in Backstage's sandbox: the arguments and the result cross a JSON boundary.
    env.addFilter(name, (...args) => JSON.parse(JSON.stringify(filter(...JSON.parse(JSON.stringify(args))))));
  }
  return env;
}

// Whether a step input string is exactly one `${{ }}` expression (the runner then keeps its type).
function isSingleTemplateString(text) {
  const parsed = nunjucks.parser.parse(text, {}, {
    autoescape: false,
    tags: { variableStart: '${{', variableEnd: '}}' },
  });
  // The top node is an Output whose first child is the text or the expression.
  return parsed.children.length === 1 && !(parsed.children[0]?.children?.[0] instanceof nunjucks.nodes.TemplateData);
}

// Renders a step's input as Backstage's task runner does: every string through nunjucks; a string
// that is one expression keeps its value's type (rendered through `dump` and parsed back); an empty
// rendering drops the key; a string that fails to render stays as written.
export function renderInput(env, input, context) {
  const render = (text) => env.renderString(text, context);
  return JSON.parse(JSON.stringify(input), (_key, value) => {
    if (typeof value !== 'string') return value;
    try {
      try {
        if (isSingleTemplateString(value)) {
          const dumped = render(value.replace(/\${{(.+)}}/g, '${{ ( $1 ) | dump }}'));
          if (dumped === '') return undefined;
          return JSON.parse(dumped);
        }
      } catch {
        // fall back to rendering it as text
      }
      const text = render(value);
      return text === '' ? undefined : text;
    } catch {
      return value;
    }
  });
}
