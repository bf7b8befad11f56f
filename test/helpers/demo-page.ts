/** Driving the demo page (web/) in Chromium: its test hook and opening sessions from its form. */
import type { Page } from 'playwright-core';
import { startDemo, type Demo } from '../../server/demo/demo.ts';
import { launchChromium } from './chromium.ts';

export interface LadderStepHook {
  kind: string;
  from: number;
  to: number;
  label: string;
  tunnel: number[];
  key: string;
  failed?: boolean;
  entry?: number;
}

export interface DemoHooks {
  tabs(): Array<{ id: number; title: string; status: string }>;
  datagrams(id: number): Array<{ direction: string; peer: string; text: string }> | null;
  terminalText(id: number): string | null;
  transcript(id: number): { target: string; entries: Array<{ hop: number; kind: string; direction: string; hex: string; fields: Array<{ name: string; label: string }> }>; error: unknown };
  ladder(id: number): LadderStepHook[] | null;
}

declare global {
  // The demo page's test hook (web/src/app/test-hooks.ts), read inside page.evaluate().
  var __wsocks: DemoHooks;
}

/** A hop of the form's custom chain. */
export interface FormHop {
  port: number;
  username?: string;
  password?: string;
}

/**
 * Opens a session from the form: a preset target by name and a route by value (with `hops` filled into the hop rows,
 * adding rows as needed); resolves with the new tab's id.
 */
export async function openFromForm(page: Page, target: string, route: string, kind: 'tcp' | 'udp' | 'bind' = 'tcp', hops?: FormHop[]): Promise<number> {
  const before = await page.evaluate(() => globalThis.__wsocks.tabs().length);
  await page.selectOption('#kind', kind);
  if (kind !== 'bind') {
    const value = await page.$eval('#preset', (el, name) => [...(el as unknown as { options: Array<{ text: string; value: string }> }).options].find((o) => o.text.startsWith(`${name}:`))!.value, target);
    await page.selectOption('#preset', value);
  }
  await page.selectOption('#route', route);
  if (hops) {
    const rows = page.locator('.hop-row');
    while ((await rows.count()) < hops.length) await page.click('button:has-text("add hop")');
    for (let i = 0; i < hops.length; i++) {
      const row = rows.nth(i);
      await row.locator('[data-k="port"]').fill(String(hops[i]!.port));
      await row.locator('[data-k="username"]').fill(hops[i]!.username ?? '');
      await row.locator('[data-k="password"]').fill(hops[i]!.password ?? '');
    }
  }
  await page.click('button.primary');
  await page.waitForFunction((n) => globalThis.__wsocks.tabs().length > n, before);
  return page.evaluate(() => globalThis.__wsocks.tabs().at(-1)!.id);
}

/** Waits until the tab's status starts with `prefix` ("open", "error", ...). */
export async function waitForStatus(page: Page, id: number, prefix: string): Promise<void> {
  await page.waitForFunction(([i, p]) => globalThis.__wsocks.tabs().find((t) => t.id === i)?.status.startsWith(p as string), [id, prefix] as const);
}

/** The demo, Chromium, and one page on the demo with its test hook ready; `pageErrors` collects uncaught page errors. */
export interface DemoPage {
  demo: Demo;
  page: Page;
  pageErrors: string[];
  /** Closes Chromium, then the demo. */
  close(): Promise<void>;
}

/** Starts the demo and Chromium and opens the page at `viewport`; whatever started is closed again if a step fails. */
export async function openDemoPage(viewport: { width: number; height: number }, options: { acceptDownloads?: boolean } = {}): Promise<DemoPage> {
  const demo = await startDemo({ port: 0 });
  let chrome: Awaited<ReturnType<typeof launchChromium>> | undefined;
  const close = async () => {
    await chrome?.close();
    await demo.close();
  };
  try {
    chrome = await launchChromium();
    const page = await chrome.browser.newPage({ viewport, ...options });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(demo.url);
    await page.waitForFunction(() => globalThis.__wsocks !== undefined);
    return { demo, page, pageErrors, close };
  } catch (err) {
    await close();
    throw err;
  }
}
