#!/usr/bin/env node
// Browser smoke test of the GraphiQL page a Greenroom server serves at GET /graphql (Accept: text/html).
//
//   cd tests/js && npm ci
//   node graphiql.mjs http://127.0.0.1:8080/graphql out/graphiql.png
//
// Opens the page in headless Chromium (the system one, /usr/bin/chromium, or $CHROMIUM_PATH) through
// playwright-core, waits for the query editor, replaces its text with QUERY, clicks the execute button,
// waits for the result pane to show the result, saves a full-page screenshot and prints the result.
//
// Exit 0 when the result arrived, is the result of QUERY (3 nodes with only `ref`, no `errors`), and the
// page neither logged console errors / uncaught exceptions nor had a failed request (network failure or
// HTTP >= 400) to the server's own origin. Otherwise prints what it saw, still saves the screenshot,
// and exits 1 (2 on bad usage). Everything is bounded by an overall 30 s deadline.
//
// The assets (React, GraphiQL JS/CSS) are embedded in the binary, so the page needs no network beyond
// the server; requests to any other origin are listed as warnings.
//
// GRAPHIQL_AUTHORIZATION="Bearer $TOKEN" adds that Authorization header to the page's requests (for a
// server with auth configured; the GraphiQL page itself is then fetched with it too).

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';

const QUERY = '{ entities(first: 3) { totalCount nodes { ref } } }';
const OVERALL_TIMEOUT_MS = 30_000;
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const [url, screenshotPath] = process.argv.slice(2);
if (!url || !screenshotPath || process.argv.length > 4) {
  console.error('usage: node graphiql.mjs URL SCREENSHOT_PATH   (e.g. http://127.0.0.1:8080/graphql out/graphiql.png)');
  process.exit(2);
}
let origin;
try {
  origin = new URL(url).origin;
} catch {
  console.error(`not a URL: ${url}`);
  process.exit(2);
}

const started = Date.now();
// Every wait gets what is left of the overall budget, minus 9 s kept for diagnostics and the screenshot.
const remaining = () => Math.max(1_000, OVERALL_TIMEOUT_MS - (Date.now() - started) - 9_000);

// Resolves to `fallback` when `promise` takes longer than `ms` (page.evaluate has no timeout of its own).
function within(ms, promise, fallback) {
  let timer;
  return Promise.race([
    promise.catch((err) => fallback ?? `(${err.message.split('\n')[0]})`),
    new Promise((resolve) => {
      timer = setTimeout(() => resolve(fallback ?? `(no answer within ${ms} ms)`), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
const consoleErrors = [];
const failedRequests = [];
const externalRequests = [];
let graphqlPosts = 0;
let ourQueryPosted = false;

let browser;
let page;
// A fresh, throw-away HOME/XDG directory per run, so Chromium writes nothing under the real home (Playwright
// itself gives launch() a temporary --user-data-dir). Removed at the end.
const profileDir = mkdtempSync(join(tmpdir(), 'greenroom-graphiql-'));

// Last resort: if anything hangs past the deadline (e.g. the browser does not start), give up.
const watchdog = setTimeout(() => {
  console.log(`FAIL: overall timeout of ${OVERALL_TIMEOUT_MS / 1000} s exceeded`);
  within(2_000, cleanup()).finally(() => process.exit(1));
}, OVERALL_TIMEOUT_MS);
watchdog.unref();

async function cleanup() {
  try {
    await within(3_000, browser?.close() ?? Promise.resolve());
  } catch {}
  try {
    rmSync(profileDir, { recursive: true, force: true });
  } catch {}
}

async function screenshot() {
  if (!page) return;
  try {
    mkdirSync(dirname(screenshotPath), { recursive: true });
    await page.screenshot({ path: screenshotPath, fullPage: true, timeout: 4_000 });
    console.log(`screenshot: ${screenshotPath}`);
  } catch (err) {
    console.log(`screenshot failed: ${err.message.split('\n')[0]}`);
  }
}

// Text of the CodeMirror 5 editor (GraphiQL 1-4) or the Monaco editor (GraphiQL 5) inside `paneSelector`,
// falling back on the rendered text.
async function paneText(paneSelector) {
  return page.evaluate((sel) => {
    const pane = document.querySelector(sel);
    if (!pane) return null;
    const cm = pane.querySelector('.CodeMirror');
    if (cm && cm.CodeMirror) return cm.CodeMirror.getValue();
    const monacoEl = pane.querySelector('.monaco-editor');
    const monaco = window.monaco;
    if (monacoEl && monaco?.editor) {
      const ed = monaco.editor.getEditors?.().find((e) => monacoEl.contains(e.getDomNode()));
      if (ed) return ed.getValue();
    }
    return pane.innerText;
  }, paneSelector);
}

const QUERY_PANE = '.graphiql-query-editor';
const RESULT_PANE = '.graphiql-response, .result-window';

async function main() {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 15_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    env: { ...process.env, HOME: profileDir, XDG_CONFIG_HOME: profileDir, XDG_CACHE_HOME: profileDir },
  });
  const context = await browser.newContext({
    viewport: { width: 1400, height: 900 },
    extraHTTPHeaders: process.env.GRAPHIQL_AUTHORIZATION
      ? { authorization: process.env.GRAPHIQL_AUTHORIZATION }
      : {},
  });
  page = await context.newPage();
  page.setDefaultTimeout(10_000);

  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      const loc = msg.location();
      consoleErrors.push(`console.error: ${msg.text()}${loc?.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`);
    }
  });
  page.on('pageerror', (err) => consoleErrors.push(`uncaught exception: ${err.message}`));
  page.on('request', (req) => {
    const u = req.url();
    if (u.startsWith('data:') || u.startsWith('blob:')) return;
    let reqOrigin;
    try {
      reqOrigin = new URL(u).origin;
    } catch {
      return;
    }
    if (reqOrigin !== origin) externalRequests.push(`${req.method()} ${u}`);
    if (req.method() === 'POST' && new URL(u).pathname === new URL(url).pathname) {
      graphqlPosts++;
      if ((req.postData() ?? '').includes('entities(first: 3)')) ourQueryPosted = true;
    }
  });
  page.on('requestfailed', (req) => {
    if (req.url().startsWith(origin)) {
      failedRequests.push(`${req.method()} ${req.url()}: ${req.failure()?.errorText ?? 'failed'}`);
    }
  });
  page.on('response', (res) => {
    if (res.url().startsWith(origin) && res.status() >= 400) {
      failedRequests.push(`${res.request().method()} ${res.url()}: HTTP ${res.status()}`);
    }
  });

  // Navigation sends Accept: text/html,..., so the server answers with the GraphiQL page.
  const nav = await page.goto(url, { waitUntil: 'load', timeout: remaining() });
  const ct = nav?.headers()['content-type'] ?? '';
  if (!nav || nav.status() !== 200 || !ct.includes('text/html')) {
    throw new Error(`GET ${url} answered HTTP ${nav?.status()} with content-type "${ct}", expected 200 text/html`);
  }

  // The editor is ready once CodeMirror (or Monaco) has rendered inside the query pane.
  await page.waitForSelector(`${QUERY_PANE} .CodeMirror, ${QUERY_PANE} .monaco-editor`, {
    state: 'visible',
    timeout: remaining(),
  });
  // Let the schema introspection that GraphiQL starts on load settle (best effort).
  await page.waitForLoadState('networkidle', { timeout: 3_000 }).catch(() => {});

  // Replace the query text: through the CodeMirror 5 API when present (typing would fight its bracket
  // auto-closing), otherwise select-all + insertText through the keyboard (Monaco, or anything else).
  const viaApi = await page.evaluate(
    ([sel, q]) => {
      const cm = document.querySelector(`${sel} .CodeMirror`);
      if (!cm || !cm.CodeMirror) return false;
      cm.CodeMirror.setValue(q);
      cm.CodeMirror.focus();
      return true;
    },
    [QUERY_PANE, QUERY],
  );
  if (!viaApi) {
    await page.click(`${QUERY_PANE} .monaco-editor, ${QUERY_PANE} .CodeMirror`);
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(QUERY);
  }
  const editorText = (await paneText(QUERY_PANE))?.trim();
  if (editorText !== QUERY) {
    throw new Error(`query editor holds ${JSON.stringify(editorText)} instead of the query`);
  }

  // Run it with the execute button (GraphiQL 2+: .graphiql-execute-button; 1.x: .execute-button).
  await page.click('button.graphiql-execute-button, .execute-button, button[aria-label^="Execute query"]', {
    timeout: remaining(),
  });

  await page.waitForFunction(
    (sel) => [...document.querySelectorAll(sel)].some((el) => el.textContent.includes('"totalCount"')),
    RESULT_PANE,
    { timeout: remaining(), polling: 100 },
  );

  const resultText = await paneText(RESULT_PANE);
  const problems = [];
  let result;
  try {
    result = JSON.parse(resultText);
  } catch {
    problems.push('result pane does not hold valid JSON');
  }
  if (result) {
    if (result.errors) problems.push(`result has errors: ${JSON.stringify(result.errors)}`);
    const conn = result.data?.entities;
    if (typeof conn?.totalCount !== 'number') problems.push('result has no numeric data.entities.totalCount');
    const nodes = conn?.nodes;
    if (!Array.isArray(nodes) || nodes.length !== 3 || !nodes.every((n) => Object.keys(n).join() === 'ref')) {
      problems.push('data.entities.nodes is not 3 nodes with only `ref` (did the default query run instead?)');
    }
  }
  if (!ourQueryPosted) problems.push(`the query was never POSTed to ${url} (${graphqlPosts} POSTs seen)`);
  return { resultText, problems };
}

let exitCode = 0;
try {
  const { resultText, problems } = await main();
  await screenshot();
  console.log('result pane:');
  console.log(resultText);
  for (const p of problems) console.log(`FAIL: ${p}`);
  if (problems.length) exitCode = 1;
} catch (err) {
  exitCode = 1;
  console.log(`FAIL: ${err.message.split('\n').slice(0, 3).join(' | ')}`);
  if (page) {
    try {
      console.log(`page title: ${await within(1_000, page.title())}`);
      console.log(`query pane: ${JSON.stringify(await within(1_000, paneText(QUERY_PANE)))}`);
      console.log(`result pane: ${JSON.stringify(await within(1_000, paneText(RESULT_PANE)))}`);
      const body = await within(1_000, page.evaluate(() => document.body?.innerText ?? ''));
      console.log(`page text (first 800 chars): ${JSON.stringify(String(body).slice(0, 800))}`);
    } catch (e) {
      console.log(`(could not inspect the page: ${e.message.split('\n')[0]})`);
    }
  }
  await screenshot();
}

for (const e of consoleErrors) console.log(`FAIL: ${e}`);
for (const f of failedRequests) console.log(`FAIL: failed request ${f}`);
for (const x of externalRequests) console.log(`WARN: request to another origin: ${x}`);
if (consoleErrors.length || failedRequests.length) exitCode = 1;

console.log(`${exitCode === 0 ? 'PASS' : 'FAIL'} graphiql ${url} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
clearTimeout(watchdog);
await cleanup();
process.exit(exitCode);
