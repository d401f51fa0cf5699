/**
 * Debian's chromium driven by playwright-core, launched once per test file
 * with a fresh profile. scripts/run-tests.mjs leaves files that import this
 * helper out when /usr/bin/chromium is missing (and says so), except with
 * CI=true, where a missing browser fails them.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CAPFRAME_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = resolve('test-output/console');

export interface BrowserSession {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Saves a full-page screenshot as test-output/console/NAME.png, prints and returns its path. */
  shot(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<BrowserSession> {
  const profile = mkdtempSync(join(tmpdir(), 'capframe-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
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
    viewport: { width: 1100, height: 640 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    context,
    page,
    async shot(name) {
      const path = join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path });
      console.log(`# screenshot: ${path}`);
      return path;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
