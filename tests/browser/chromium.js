// What the browser tests share: Debian's chromium, headless, driven by playwright-core (nothing
// downloads a browser), and pages that record every console error, page error and CSP violation
// for the test's end to assert that there were none.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { root } from '../js/support.js';

const executable =
  process.env.CHROMIUM ??
  ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((candidate) => existsSync(candidate));

// Where screenshots go: build/screenshots/, or HERALD_SCREENSHOT_DIR (docs/ refreshes the README's).
export const screenshots = path.resolve(root, process.env.HERALD_SCREENSHOT_DIR ?? 'build/screenshots');

export async function launchChromium() {
  if (!executable) throw new Error('no chromium: tools/setup-deps.sh installs Debian\'s');
  return chromium.launch({
    executablePath: executable,
    headless: true,
    timeout: 30000,
    args: [
      '--no-sandbox',
      '--disable-dev-shm-usage',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

// A fresh page (its own profile: empty storage) that records console errors, page errors and
// CSP violations (the securitypolicyviolation events of every document it loads); the test's end
// asserts there were none, but for console errors that match one of `expected`. Made before
// the test's server, so that it closes first (a test's after hooks run in order) and never sees
// the server go. (A hook that fails skips the hooks after it: such a server is killed when the
// test process exits, see startHerald.)
export async function newPage(browser, t, { expected = [] } = {}) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    if (!expected.some((pattern) => pattern.test(message.text()))) problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  await page.exposeFunction('reportCspViolation', (text) => problems.push(`CSP: ${text}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) =>
      globalThis.reportCspViolation(`${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`),
    );
  });
  t.after(async () => {
    await context.close();
    assert.deepEqual(problems, [], 'the page logged errors');
  });
  return page;
}
