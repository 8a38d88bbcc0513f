// The pages that herald serves itself: the embedded files, their headers, revalidation, and
// --no-web.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { root, startHerald } from './support.js';

const files = {
  '/demo': ['source/web/demo.html', 'text/html; charset=utf-8'],
  '/demo/demo.js': ['source/web/demo.js', 'text/javascript; charset=utf-8'],
  '/demo/style.css': ['source/web/style.css', 'text/css; charset=utf-8'],
  '/demo/favicon.svg': ['source/web/favicon.svg', 'image/svg+xml'],
  '/status': ['source/web/status.html', 'text/html; charset=utf-8'],
  '/status/status.js': ['source/web/status.js', 'text/javascript; charset=utf-8'],
  '/status/status.css': ['source/web/status.css', 'text/css; charset=utf-8'],
  '/status/vendor/uPlot.iife.min.js': ['source/web/vendor/uPlot.iife.min.js', 'text/javascript; charset=utf-8'],
  '/status/vendor/uPlot.min.css': ['source/web/vendor/uPlot.min.css', 'text/css; charset=utf-8'],
  '/status/vendor/uPlot.LICENSE.txt': ['source/web/vendor/uPlot.LICENSE.txt', 'text/plain; charset=utf-8'],
  '/js/herald.js': ['source/js/herald.js', 'text/javascript; charset=utf-8'],
};

test('each embedded file is served as it is in the tree, with its type, CSP, nosniff and an ETag', async (t) => {
  const server = await startHerald();
  t.after(() => server.stop());
  for (const [route, [file, type]] of Object.entries(files)) {
    const response = await fetch(`${server.http}${route}`);
    assert.equal(response.status, 200, route);
    assert.equal(response.headers.get('content-type'), type, route);
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), readFileSync(path.join(root, file)), route);
    const csp = response.headers.get('content-security-policy');
    assert.match(csp, /^default-src 'self';/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    const etag = response.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{20}"$/);

    const again = await fetch(`${server.http}${route}`, { headers: { 'If-None-Match': `"other", ${etag}` } });
    assert.equal(again.status, 304, route);
    assert.equal((await again.arrayBuffer()).byteLength, 0);
  }
  const post = await fetch(`${server.http}/demo`, { method: 'POST', body: '{}' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET');
  assert.equal((await fetch(`${server.http}/demo/nothing.js`)).status, 404);
});

test('the pages have no inline script or style', () => {
  for (const page of ['demo.html', 'status.html']) {
    const html = readFileSync(path.join(root, 'source/web', page), 'utf8');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, page);
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, page);
  }
});

test('the vendored uPlot is the npm package that tests/package.json pins, its version recorded', () => {
  // tools/vendor-uplot.sh copies it; the lockfile's integrity check vouches for node_modules.
  const pinned = JSON.parse(readFileSync(path.join(root, 'tests/package.json'), 'utf8')).devDependencies.uplot;
  const installed = JSON.parse(readFileSync(path.join(root, 'tests/node_modules/uplot/package.json'), 'utf8'));
  assert.equal(installed.version, pinned);
  for (const [vendored, original] of [
    ['uPlot.iife.min.js', 'dist/uPlot.iife.min.js'],
    ['uPlot.min.css', 'dist/uPlot.min.css'],
    ['uPlot.LICENSE.txt', 'LICENSE'],
  ]) {
    assert.deepEqual(
      readFileSync(path.join(root, 'source/web/vendor', vendored)),
      readFileSync(path.join(root, 'tests/node_modules/uplot', original)),
      `${vendored}: run tools/vendor-uplot.sh`,
    );
  }
  const recorded = readFileSync(path.join(root, 'source/web/vendor/uPlot.version'), 'utf8');
  assert.ok(recorded.startsWith(`uplot ${pinned} (MIT)`), recorded);
});

test('--no-web serves no page', async (t) => {
  const server = await startHerald(['--no-web']);
  t.after(() => server.stop());
  for (const route of Object.keys(files)) assert.equal((await fetch(`${server.http}${route}`)).status, 404, route);
  assert.equal((await fetch(`${server.http}/healthz`)).status, 200);
});
