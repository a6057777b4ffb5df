/**
 * Headless Chromium for the HTML renderer tests (playwright-core with the system's /usr/bin/chromium; no browser
 * download). Records console errors, page errors, dialogs (a script that ran) and every request but the page's
 * own file; aborts anything else so a test can never reach the network.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.PGDRILL_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts');

const ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/**
 * Launch Chromium, or skip the test when it is absent — except under CI (CI set), where a missing browser
 * fails: the HTML report must be checked there.
 */
export async function launchOrSkip(t: TestContext): Promise<Browser | null> {
  if (!existsSync(CHROMIUM)) {
    const why = `${CHROMIUM} not found: install it (apt-get install -y chromium) to run the browser tests`;
    if (process.env.CI) throw new Error(`${why}; CI must install it`);
    t.skip(why);
    return null;
  }
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}

/** What happened while a page was open. */
export interface PageLog {
  readonly consoleErrors: string[];
  readonly requests: string[];
  readonly dialogs: string[];
}

/**
 * Open a file in a fresh context with CSP bypassed — the page's own CSP would block injected scripts and
 * fetches, and the test must prove the escaping and the absence of URLs, not the CSP.
 */
export async function openFile(browser: Browser, path: string): Promise<{ page: Page; log: PageLog }> {
  const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const url = pathToFileURL(path).href;
  const log: PageLog = { consoleErrors: [], requests: [], dialogs: [] };
  page.on('console', (m) => void (m.type() === 'error' && log.consoleErrors.push(m.text())));
  page.on('pageerror', (e) => void log.consoleErrors.push(String(e)));
  page.on('dialog', (d) => {
    log.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('request', (r) => void (r.url() !== url && log.requests.push(r.url())));
  await context.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()));
  await page.goto(url, { waitUntil: 'load' });
  return { page, log };
}
