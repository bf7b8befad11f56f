/** Driving the demo page (web/) in Chromium: its test hook and opening sessions from its form. */
import type { Page } from 'playwright-core';

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

/** Opens a session from the form: a preset target by name and a route by value; resolves with the new tab's id. */
export async function openFromForm(page: Page, target: string, route: string, kind: 'tcp' | 'udp' | 'bind' = 'tcp'): Promise<number> {
  const before = await page.evaluate(() => globalThis.__wsocks.tabs().length);
  await page.selectOption('#kind', kind);
  if (kind !== 'bind') {
    const value = await page.$eval('#preset', (el, name) => [...(el as unknown as { options: Array<{ text: string; value: string }> }).options].find((o) => o.text.startsWith(`${name}:`))!.value, target);
    await page.selectOption('#preset', value);
  }
  await page.selectOption('#route', route);
  await page.click('button.primary');
  await page.waitForFunction((n) => globalThis.__wsocks.tabs().length > n, before);
  return page.evaluate(() => globalThis.__wsocks.tabs().at(-1)!.id);
}

/** Waits until the tab's status starts with `prefix` ("open", "error", ...). */
export async function waitForStatus(page: Page, id: number, prefix: string): Promise<void> {
  await page.waitForFunction(([i, p]) => globalThis.__wsocks.tabs().find((t) => t.id === i)?.status.startsWith(p as string), [id, prefix] as const);
}
