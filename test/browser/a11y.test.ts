/**
 * Everyone can use the demo UI: axe-core finds no serious or critical violation in any view, at 1280x800 and
 * 390x844, in light and dark mode; a phone-sized window shows the field table and the ladder without cutting them off;
 * and a keyboard-only walkthrough gets from the form through a session, out of its terminal, through the ladder's
 * replay and back to the form.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startDemo, type Demo } from '../../server/demo/demo.ts';
import { seriousViolations, type Violation } from '../helpers/axe.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { openFromForm, waitForStatus } from '../helpers/demo-page.ts';

const ARTIFACTS = join(import.meta.dirname, '../../test-artifacts');
const SIZES = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
] as const;
const SCHEMES = ['light', 'dark'] as const;

/** What has the focus: its tag, role, classes and text, short. */
function focused(page: Page) {
  return page.evaluate(() => {
    const el = (globalThis as unknown as { document: { activeElement: { tagName: string; className: string; textContent: string | null; getAttribute(n: string): string | null; closest(s: string): unknown } } }).document.activeElement;
    return {
      tag: el.tagName.toLowerCase(),
      role: el.getAttribute('role'),
      className: String(el.className),
      text: (el.textContent ?? '').trim().slice(0, 40),
      inTerminal: el.closest('.terminal') !== null,
      inForm: el.closest('form.open-form') !== null,
    };
  });
}

describe('accessibility of the demo UI in Chromium', () => {
  let demo: Demo;
  let chrome: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    demo = await startDemo({ port: 0 });
    chrome = await launchChromium();
  });
  afterAll(async () => {
    await chrome?.close();
    await demo?.close();
  });

  async function newPage(): Promise<Page> {
    const page = await chrome.browser.newPage({ viewport: SIZES[0] });
    await page.goto(demo.url);
    await page.waitForFunction(() => globalThis.__wsocks !== undefined);
    return page;
  }

  describe('axe-core: no serious or critical violations at 1280x800 and 390x844, light and dark', { timeout: 240_000 }, () => {
    let page: Page;
    const ids = { session: 0 };
    beforeAll(async () => {
      page = await newPage();
    });
    afterAll(() => page?.close());

    /** The serious and critical violations of what is shown now, in the four combinations of size and scheme. */
    async function check(): Promise<Array<Violation & { where: string }>> {
      const found: Array<Violation & { where: string }> = [];
      for (const size of SIZES) {
        await page.setViewportSize(size);
        for (const colorScheme of SCHEMES) {
          await page.emulateMedia({ colorScheme });
          for (const v of await seriousViolations(page)) found.push({ ...v, where: `${size.width}x${size.height} ${colorScheme}` });
        }
      }
      await page.setViewportSize(SIZES[0]);
      await page.emulateMedia({ colorScheme: 'light' });
      return found;
    }

    it('the form, with the keyboard help open', async () => {
      await page.click('.keys-help summary');
      expect(await page.locator('.keys-help dt').first().textContent()).toBe('Escape, then Tab (Shift+Tab)');
      expect(await check()).toEqual([]);
    });

    it('a session: terminal and byte cards', async () => {
      ids.session = await openFromForm(page, 'echo', 'two-hop');
      await waitForStatus(page, ids.session, 'open');
      await page.keyboard.type('hello');
      await page.keyboard.press('Enter');
      await page.waitForFunction((i) => (globalThis.__wsocks.terminalText(i)?.match(/hello/g) ?? []).length >= 2, ids.session);
      expect(await check()).toEqual([]);
    });

    it('a session: the ladder with a card', async () => {
      await page.click(`#panel-${ids.session} [role="tab"]:text("Ladder")`);
      await page.locator(`#panel-${ids.session} .replay-next`).click();
      await page.locator(`#panel-${ids.session} .step[data-key="message:1>3:greeting"]`).click();
      expect(await check()).toEqual([]);
    });

    it('a failed session: byte cards and ladder', async () => {
      const refused = await openFromForm(page, 'refused port', 'one-hop');
      await waitForStatus(page, refused, 'error');
      expect(await check()).toEqual([]);
      await page.click(`#panel-${refused} [role="tab"]:text("Ladder")`);
      expect(await check()).toEqual([]);
    });

    it('a UDP session', async () => {
      const udp = await openFromForm(page, 'DNS', 'one-hop', 'udp');
      await waitForStatus(page, udp, 'associated');
      await page.click(`#panel-${udp} button:text("send DNS query (A)")`);
      await page.waitForFunction((i) => globalThis.__wsocks.datagrams(i)?.some((d) => d.direction === 'received'), udp);
      expect(await check()).toEqual([]);
    });

    it('a BIND session', async () => {
      const bind = await openFromForm(page, '', 'one-hop', 'bind');
      await waitForStatus(page, bind, 'bound');
      expect(await check()).toEqual([]);
    });

    it('every tool view (each button under Tools), and an imported transcript', async () => {
      // The sessions' tabs are checked above; closing them keeps each axe run small.
      const transcript = await page.evaluate((i) => globalThis.__wsocks.transcript(i), ids.session);
      while ((await page.locator('.tab').count()) > 0) await page.locator('.tab .x').first().click();
      const tools = await page.$$eval('nav.tools button[id^="tool-"]', (els) => els.map((e) => e.id));
      expect(tools).toContain('tool-import');
      for (const tool of tools) {
        await page.click(`#${tool}`);
        await page.waitForSelector(`[data-view="${tool.slice('tool-'.length)}"]:not([hidden])`);
        expect(await check(), tool).toEqual([]);
      }
      await page.click('#tool-import');
      await page.fill('#import-text', JSON.stringify(transcript));
      await page.click('button:text("Show the pasted transcript")');
      await page.waitForFunction(() => globalThis.__wsocks.tabs().at(-1)!.title.startsWith('imported'));
      expect(await check()).toEqual([]);
    });
  });

  it('follows the system’s dark mode, and fits a 390 px phone: the field table and the ladder scroll in their own boxes', async () => {
    const page = await newPage();
    const background = () => page.evaluate(() => getComputedStyle((globalThis as unknown as { document: { body: Element } }).document.body.parentElement!).backgroundColor);
    await page.emulateMedia({ colorScheme: 'light' });
    expect(await background()).toBe('rgb(246, 247, 249)');
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await background()).toBe('rgb(15, 19, 23)');

    await page.setViewportSize(SIZES[1]);
    const id = await openFromForm(page, 'echo', 'two-hop');
    await waitForStatus(page, id, 'open');
    const overflow = () =>
      page.evaluate(() => {
        const doc = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document;
        return doc.documentElement.scrollWidth - doc.documentElement.clientWidth;
      });
    expect(await overflow()).toBeLessThanOrEqual(0);
    // Every field table lies inside the window: it wraps or scrolls inside its own box, never cut off by the page.
    const boxes = await page.$$eval(`#panel-${id} .fields-box`, (els) => els.map((el) => ({ right: el.getBoundingClientRect().right, scrolls: el.scrollWidth > el.clientWidth })));
    expect(boxes.length).toBeGreaterThan(5);
    for (const b of boxes) expect(b.right).toBeLessThanOrEqual(390);
    const meaning = page.locator(`#panel-${id} article[data-kind="socks5.request"] td.meaning`).first();
    await meaning.scrollIntoViewIfNeeded();
    const cell = await meaning.boundingBox();
    expect(cell!.width).toBeGreaterThan(100);
    await page.screenshot({ path: join(ARTIFACTS, 'phone-dark-byte-cards.png'), fullPage: false });
    await page.click(`#panel-${id} [role="tab"]:text("Ladder")`);
    expect(await overflow()).toBeLessThanOrEqual(0);
    const ladder = await page.$eval(`#panel-${id} .ladder-scroll`, (el) => el.getBoundingClientRect().right);
    expect(ladder).toBeLessThanOrEqual(390);
    await page.locator(`#panel-${id} .ladder-scroll`).scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(ARTIFACTS, 'phone-dark-ladder.png'), fullPage: false });
    await page.close();
  });

  it('works from the keyboard alone: form, session, out of the terminal, the ladder’s replay, and back to the form', async () => {
    const page = await newPage();
    const key = (k: string) => page.keyboard.press(k);
    /** Presses `k` until `done` holds for what has the focus (at most `max` times). */
    const until = async (k: string, done: (f: Awaited<ReturnType<typeof focused>>) => boolean, max = 30) => {
      for (let i = 0; i < max; i++) {
        const f = await focused(page);
        if (done(f)) return f;
        // The documented way out of a terminal: Escape, then Tab (or Shift+Tab).
        if (f.inTerminal) await key('Escape');
        await key(k);
      }
      throw new Error(`focus never got there; it is on ${JSON.stringify(await focused(page))}`);
    };
    await until('Tab', (f) => f.tag === 'select' && f.inForm);
    await until('Tab', (f) => f.tag === 'button' && f.text === 'Open');
    const before = await page.evaluate(() => globalThis.__wsocks.tabs().length);
    await key('Enter');
    await page.waitForFunction((n) => globalThis.__wsocks.tabs().length > n, before);
    const id = await page.evaluate(() => globalThis.__wsocks.tabs().at(-1)!.id);
    await waitForStatus(page, id, 'open');
    // The session's terminal has the focus: type into it.
    expect((await focused(page)).inTerminal).toBe(true);
    await page.keyboard.type('keys only');
    await key('Enter');
    await page.waitForFunction((i) => (globalThis.__wsocks.terminalText(i)?.match(/keys only/g) ?? []).length >= 2, id);
    // Tab alone stays in the terminal (the program gets it); Escape then Tab leaves it for the session views' tabs.
    await key('Tab');
    expect((await focused(page)).inTerminal).toBe(true);
    await key('Escape');
    await key('Tab');
    expect(await focused(page)).toMatchObject({ role: 'tab', text: 'Byte cards', inTerminal: false });
    // Inside the byte cards: a card's bytes are one Tab stop, arrows move along the fields, Enter goes to the row.
    await key('Tab');
    const bytes = await until('Tab', (f) => f.role === 'button' && f.className.includes('bytes'));
    expect(bytes.text).toBe('05');
    await key('ArrowRight');
    expect((await focused(page)).text).toBe('01');
    await key('Enter');
    expect(await focused(page)).toMatchObject({ tag: 'tr', className: expect.stringContaining('hl') });
    await key('Escape');
    expect(await focused(page)).toMatchObject({ text: '01', className: expect.stringContaining('hl') });
    // Back to the tab list, on to the ladder (ARIA tabs: arrow keys), into it, and replay.
    await until('Shift+Tab', (f) => f.role === 'tab' && f.text === 'Byte cards');
    await key('ArrowRight');
    expect(await focused(page)).toMatchObject({ role: 'tab', text: 'Ladder' });
    expect(await page.isVisible(`#panel-${id} .ladder`)).toBe(true);
    await until('Tab', (f) => f.className.includes('step'));
    await key('n');
    await key('n');
    await key('ArrowDown');
    const panel = page.locator(`#panel-${id}`);
    expect(await panel.locator('.step.current').getAttribute('data-step')).toBe('2');
    expect((await focused(page)).className).toContain('current');
    await key('p');
    expect(await panel.locator('.step.current').getAttribute('data-step')).toBe('1');
    await key('End');
    const last = await panel.locator('.step.current').getAttribute('data-step');
    expect(Number(last)).toBe((await panel.locator('.step').count()) - 1);
    await key('Home');
    await key('Enter');
    await expect(panel.locator('.ladder-card').textContent()).resolves.toContain('the browser asks the bridge to open');
    // Back to the form, against the Tab order (through the terminal with Escape, Shift+Tab).
    await until('Shift+Tab', (f) => f.tag === 'button' && f.text === 'Open', 60);
    expect((await focused(page)).inForm).toBe(true);
    // A second session, closed from its tab with Delete: the focus lands on the tab shown next.
    await key('Enter');
    await page.waitForFunction(() => globalThis.__wsocks.tabs().length === 2);
    const second = await page.evaluate(() => globalThis.__wsocks.tabs()[1]!.id);
    await waitForStatus(page, second, 'open');
    await until('Shift+Tab', (f) => f.role === 'tab');
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement.id)).toBe(`tab-${second}`);
    await key('Delete');
    await page.waitForFunction(() => globalThis.__wsocks.tabs().length === 1);
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement.id)).toBe(`tab-${id}`);
    await page.close();
  });
});
