// Serves git mirrors of public repositories offline, for measure-templates.mjs --mirrors DIR: a real
// `git http-backend` behind an HTTP server on 127.0.0.1, whose tree is `HOST/OWNER/REPO.git`, each a
// link to the bare mirror DIR/OWNER+REPO/repo (a bare git directory per repository). Greenroom is
// pointed at it by git's own URL rewriting (`url.http://127.0.0.1:PORT/HOST/.insteadOf https://HOST/`,
// as GIT_CONFIG_* variables of the server's environment), so the templates' text is not rewritten.
//
// A repository no mirror holds — the user's own existing repository that a register-component or
// add-to-component template's derived values name — is served as a seeded stand-in (a README and the
// catalog-info.yaml of a Component on `main`), as the seed catalog stands in for the entities the
// values name; `standIns` lists them for the report.

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

/// `{host, owner, repo, ref, path}` of a GitHub-shaped tree URL (`…/OWNER/REPO[/tree|blob/REF/PATH]`),
/// as Greenroom reads it (the first segment after tree/blob is the ref), or undefined.
export function treeUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:') return undefined;
  const segs = url.pathname.split('/').filter(Boolean);
  const repo = segs[1]?.replace(/\.git$/, '');
  if (segs.length === 2) return { host: url.host, owner: segs[0], repo, ref: undefined, path: '' };
  if (segs.length >= 4 && (segs[2] === 'tree' || segs[2] === 'blob')) {
    return { host: url.host, owner: segs[0], repo, ref: segs[3], path: segs.slice(4).join('/') };
  }
  return undefined;
}

function git(args, options = {}) {
  return execFileSync('git', ['-c', 'user.name=measure', '-c', 'user.email=measure@example.invalid', ...args],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

function standIn(bare, name) {
  const work = mkdtempSync(path.join(os.tmpdir(), 'greenroom-standin-'));
  try {
    writeFileSync(path.join(work, 'README.md'), `# ${name}\n\nA stand-in for an existing repository.\n`);
    // An existing component's repository holds its catalog file (what add-to-component templates edit).
    writeFileSync(path.join(work, 'catalog-info.yaml'), 'apiVersion: backstage.io/v1alpha1\nkind: Component\n' +
      `metadata:\n  name: ${name}\nspec:\n  type: service\n  lifecycle: production\n  owner: group:default/team-a\n`);
    git(['-C', work, 'init', '-q', '-b', 'main']);
    git(['-C', work, 'add', '.']);
    git(['-C', work, 'commit', '-q', '-m', 'stand-in']);
    git(['clone', '-q', '--bare', work, bare]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// One request through `git http-backend` (CGI): the request body piped in, its headers parsed.
function cgi(root, req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const child = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH, GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: decodeURIComponent(url.pathname), QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method, CONTENT_TYPE: req.headers['content-type'] ?? '',
      HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '', HTTP_GIT_PROTOCOL: req.headers['git-protocol'] ?? '',
      REMOTE_ADDR: '127.0.0.1',
    },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  req.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let started = false;
  child.stdout.on('data', (chunk) => {
    if (started) return void res.write(chunk);
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    started = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const i = line.indexOf(':');
      const [k, v] = [line.slice(0, i).trim(), line.slice(i + 1).trim()];
      if (k.toLowerCase() === 'status') status = parseInt(v, 10);
      else if (k) res.setHeader(k, v);
    }
    res.writeHead(status);
    res.write(head.subarray(end + 4));
  });
  child.on('close', () => (started ? res.end() : res.writeHead(502).end()));
}

/// Starts the server over the mirrors in `mirrorDir`. `serve(url)` makes the repository a tree URL
/// names available (a mirror, else a stand-in) and returns the local directory of its path at its ref
/// (for the nunjucks rendering), or undefined for a URL of no such shape.
export async function startMirrors(mirrorDir) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'greenroom-mirrors-'));
  const root = path.join(dir, 'srv');
  const trees = path.join(dir, 'trees');
  const server = http.createServer((req, res) => cgi(root, req, res));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const mirrored = new Set();
  const standIns = new Set();
  const serve = (text) => {
    const t = treeUrl(text);
    if (!t) return undefined;
    const name = `${t.host}/${t.owner}/${t.repo}`;
    const bare = path.join(root, t.host, t.owner, `${t.repo}.git`);
    if (!existsSync(bare)) {
      mkdirSync(path.dirname(bare), { recursive: true });
      const mirror = path.join(mirrorDir, `${t.owner}+${t.repo}`, 'repo');
      if (t.host === 'github.com' && existsSync(mirror)) {
        symlinkSync(mirror, bare);
        mirrored.add(name);
      } else {
        standIn(bare, t.repo);
        standIns.add(name);
      }
    }
    const ref = t.ref ?? 'HEAD';
    const out = path.join(trees, t.host, t.owner, t.repo, ref.replace(/[^A-Za-z0-9._-]/g, '_'));
    if (!existsSync(out)) {
      mkdirSync(out, { recursive: true });
      try {
        const tar = execFileSync('git', ['--git-dir', bare, 'archive', '--format=tar', ref, '--'], { maxBuffer: 512 << 20 });
        execFileSync('tar', ['-x', '-C', out], { input: tar });
      } catch {
        // An unknown ref: the directory stays empty and the path is missing, as for Greenroom.
      }
    }
    return path.join(out, t.path);
  };
  const hosts = ['github.com'];
  const gitEnv = { GIT_CONFIG_COUNT: String(hosts.length) };
  hosts.forEach((h, i) => {
    gitEnv[`GIT_CONFIG_KEY_${i}`] = `url.http://127.0.0.1:${port}/${h}/.insteadOf`;
    gitEnv[`GIT_CONFIG_VALUE_${i}`] = `https://${h}/`;
  });
  return {
    host: `127.0.0.1:${port}`,
    gitEnv,
    serve,
    mirrored,
    standIns,
    close() {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
