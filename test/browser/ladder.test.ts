/**
 * The ladder diagram in Chromium: a two-hop session's arrows in time order with hop 2 inside hop 1's tunnel, failures
 * drawn where they happened, the replay, and an exported transcript re-imported into the same diagram.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openDemoPage, openFromForm, waitForStatus, type DemoPage } from '../helpers/demo-page.ts';

const ARTIFACTS = join(import.meta.dirname, '../../test-artifacts');

/** The arrows as drawn in the page: step index, key, and the tunnel blocks each sits in (outermost first). */
function drawnSteps(page: Page, id: number) {
  return page.$$eval(`#panel-${id} .ladder .step`, (els) =>
    els.map((el) => {
      const tunnels: string[] = [];
      for (let at = el.closest('li.tunnel'); at; at = at.parentElement!.closest('li.tunnel')) tunnels.unshift((at as unknown as { dataset: { through: string } }).dataset.through);
      const d = (el as unknown as { dataset: { step: string; key: string } }).dataset;
      return { step: Number(d.step), key: d.key, tunnels };
    }),
  );
}

describe('ladder diagram in Chromium', () => {
  let harness: DemoPage;
  let page: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    harness = await openDemoPage({ width: 1280, height: 800 }, { acceptDownloads: true });
    ({ page, pageErrors } = harness);
  });
  afterAll(async () => {
    await harness?.close();
  });

  let twoHop: number;

  it('draws a two-hop session: every message in time order, hop 2 inside hop 1’s tunnel, then the first data', async () => {
    twoHop = await openFromForm(page, 'echo', 'two-hop');
    await waitForStatus(page, twoHop, 'open');
    await page.keyboard.type('ping');
    await page.keyboard.press('Enter');
    await page.waitForFunction((i) => globalThis.__wsocks.ladder(i)!.filter((s) => s.kind === 'data').length === 2, twoHop);
    const steps = (await page.evaluate((i) => globalThis.__wsocks.ladder(i), twoHop))!;
    const columns = await page.$$eval(`#panel-${twoHop} .ladder .lanes span`, (els) => els.map((e) => e.textContent));
    expect(columns).toEqual(['browser', 'bridge', 'hop 1', 'hop 2', 'target']);
    // browser 0, bridge 1, hop 1 = 2, hop 2 = 3, target 4.
    expect(steps.filter((s) => s.kind === 'message').map((s) => `${s.from}>${s.to} ${s.label} [${s.tunnel.join(',')}]`)).toEqual([
      '1>2 greeting []',
      '2>1 method choice METHOD 0x00 []',
      '1>2 CONNECT request []',
      '2>1 reply REP 0x00 []',
      '1>3 greeting [1]',
      '3>1 method choice METHOD 0x02 [1]',
      '1>3 username + password [1]',
      '3>1 auth status STATUS 0x00 [1]',
      '1>3 CONNECT request [1]',
      '3>1 reply REP 0x00 [1]',
    ]);
    const kinds = steps.map((s) => s.kind);
    expect(kinds[0]).toBe('open');
    expect(kinds.slice(-3)).toEqual(['opened', 'data', 'data']);
    // Local steps sit on the bridge's column; the connect to hop 1 comes before hop 1's greeting.
    expect(steps.filter((s) => s.kind === 'local').every((s) => s.from === 1 && s.to === 1)).toBe(true);
    expect(steps.findIndex((s) => s.kind === 'local' && s.label === 'connect')).toBeLessThan(kinds.indexOf('message'));
    // The first data: browser to target and back, the bytes typed.
    const data = steps.filter((s) => s.kind === 'data');
    expect(data.map((s) => [s.from, s.to])).toEqual([[0, 4], [4, 0]]);
    expect(data[0]!.label).toBe('first data: "ping\\r\\n"');

    // In the page: the arrows in the same order, and exactly hop 2's messages inside hop 1's tunnel block.
    const drawn = await drawnSteps(page, twoHop);
    expect(drawn.map((d) => d.step)).toEqual(steps.map((_, i) => i));
    expect(drawn.map((d) => d.key)).toEqual(steps.map((s) => s.key));
    const entries = (await page.evaluate((i) => globalThis.__wsocks.transcript(i), twoHop)).entries;
    for (const d of drawn) {
      const step = steps[d.step]!;
      const hop = step.entry !== undefined && entries[step.entry]!.direction !== 'local' ? entries[step.entry]!.hop : 0;
      expect(d.tunnels).toEqual(hop === 2 ? ['1'] : []);
    }
    expect(await page.locator(`#panel-${twoHop} li.tunnel[data-through="1"]`).count()).toBeGreaterThanOrEqual(1);
  });

  it('replays step by step and opens an arrow’s byte card', async () => {
    await page.click(`#panel-${twoHop} [role="tab"]:text("Ladder")`);
    const panel = page.locator(`#panel-${twoHop}`);
    await panel.locator('.replay-first').click();
    await expect(panel.locator('.replay-position').textContent()).resolves.toMatch(/^step 1 of \d+$/);
    await expect(panel.locator('.ladder-card').textContent()).resolves.toContain('open 127.0.0.1');
    await panel.locator('.replay-next').click();
    await panel.locator('.replay-next').click();
    await expect(panel.locator('.replay-position').textContent()).resolves.toMatch(/^step 3 of \d+$/);
    expect(await panel.locator('.step.current').getAttribute('data-step')).toBe('2');
    expect(await panel.locator('.step.future').count()).toBeGreaterThan(0);
    await panel.locator('.replay-prev').click();
    expect(await panel.locator('.step.current').getAttribute('data-step')).toBe('1');
    // Pressing hop 2's greeting shows its card: the inspector's card, bytes and fields.
    await panel.locator('.step[data-key="message:1>3:greeting"]').click();
    const card = panel.locator('.ladder-card article[data-kind="socks5.greeting"][data-hop="2"]');
    await expect(card.locator('.hex .bytes').allTextContents()).resolves.toEqual(['05', '02', '00', '02']);
    await page.screenshot({ path: join(ARTIFACTS, 'ladder-two-hop.png') });
  });

  it('draws a refused connect at the hop that could not connect, before its reply, and the error to the browser', async () => {
    const viaHop = await openFromForm(page, 'refused port', 'one-hop');
    await waitForStatus(page, viaHop, 'error');
    const steps = (await page.evaluate((i) => globalThis.__wsocks.ladder(i), viaHop))!;
    const failure = steps.findIndex((s) => s.kind === 'failure');
    // Columns: browser, bridge, hop 1, target: hop 1 (2) tried the target (3) and failed.
    expect(steps[failure]).toMatchObject({ from: 2, to: 3, failed: true, label: '✗ REP 0x05: connection refused' });
    expect(steps[failure + 1]).toMatchObject({ kind: 'message', from: 2, to: 1, label: 'reply REP 0x05' });
    expect(steps.at(-1)).toMatchObject({ kind: 'error', from: 1, to: 0, label: 'error ERR_HOP_FAILED' });
    expect(steps.some((s) => s.kind === 'opened' || s.kind === 'data')).toBe(false);
    expect(await page.locator(`#panel-${viaHop} .step.failed`).count()).toBe(1);

    const direct = await openFromForm(page, 'refused port', '');
    await waitForStatus(page, direct, 'error');
    const directSteps = (await page.evaluate((i) => globalThis.__wsocks.ladder(i), direct))!;
    // No hop: the bridge itself could not connect to the target.
    expect(directSteps.find((s) => s.kind === 'failure')).toMatchObject({ from: 1, to: 2, failed: true });
  });

  it('keeps a BIND’s ladder and the keyboard focus as the second reply arrives during a replay', async () => {
    const id = await openFromForm(page, '', 'one-hop', 'bind');
    await waitForStatus(page, id, 'bound');
    await page.click(`#panel-${id} [role="tab"]:text("Ladder")`);
    await page.locator(`#panel-${id} .replay-first`).click();
    await page.locator(`#panel-${id} .step[data-step="0"]`).focus();
    await page.keyboard.press('n');
    const before = (await page.evaluate((i) => globalThis.__wsocks.ladder(i), id))!;
    expect(before.filter((s) => s.label.startsWith('reply'))).toHaveLength(1);
    // The peer connects (fetched from inside the page: nothing takes the focus), the second reply is drawn.
    const bound = (await page.evaluate((i) => globalThis.__wsocks.transcript(i), id)).entries.find((e) => e.kind === 'bound')!;
    const [, host, port] = /at (.+):(\d+)$/.exec((bound as unknown as { note: string }).note)!;
    await page.evaluate(([h, p]) => fetch(`/demo/peer?host=${encodeURIComponent(h!)}&port=${p}`, { method: 'POST' }), [host, port]);
    await page.waitForFunction((i) => globalThis.__wsocks.ladder(i)!.filter((s) => s.label.startsWith('reply')).length === 2, id);
    const steps = (await page.evaluate((i) => globalThis.__wsocks.ladder(i), id))!;
    const columns = await page.$$eval(`#panel-${id} .ladder .lanes span`, (els) => els.map((e) => e.textContent));
    expect(columns).toEqual(['browser', 'bridge', 'hop 1', 'peer']);
    expect(steps.filter((s) => s.kind === 'message').map((s) => `${s.from}>${s.to} ${s.label}`)).toEqual([
      '1>2 greeting',
      '2>1 method choice METHOD 0x00',
      '1>2 BIND request',
      '2>1 reply REP 0x00',
      '2>1 reply REP 0x00',
    ]);
    expect(steps.findIndex((s) => s.label === 'bound')).toBeGreaterThan(steps.findIndex((s) => s.label === 'BIND request'));
    // The arrows were drawn anew; the focus stayed on the replay's current arrow.
    const focusedStep = await page.evaluate(() => {
      const el = (globalThis as unknown as { document: { activeElement: { className: string; getAttribute(n: string): string | null } } }).document.activeElement;
      return { className: String(el.className), step: el.getAttribute('data-step') };
    });
    expect(focusedStep).toEqual({ className: expect.stringContaining('current'), step: '1' });
    await page.locator(`#panel-${id} button:text-is("close")`).click();
  });

  it('shows an exported transcript, re-imported, as the same diagram with the same cards', async () => {
    await page.click(`#tab-${twoHop}`);
    await page.click(`#panel-${twoHop} [role="tab"]:text("Byte cards")`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(`#panel-${twoHop} button.export`)]);
    const file = await download.path();
    const exported = JSON.parse(readFileSync(file, 'utf8'));
    expect(exported.firstData.sent.hex).toBe('70 69 6e 67 0d 0a');

    await page.click('#tool-import');
    const before = await page.evaluate(() => globalThis.__wsocks.tabs().length);
    await page.setInputFiles('#import-file', file);
    await page.waitForFunction((n) => globalThis.__wsocks.tabs().length > n, before);
    const imported = await page.evaluate(() => globalThis.__wsocks.tabs().at(-1)!.id);
    const original = (await page.evaluate((i) => globalThis.__wsocks.ladder(i), twoHop))!;
    const again = (await page.evaluate((i) => globalThis.__wsocks.ladder(i), imported))!;
    expect(again.map((s) => s.key)).toEqual(original.map((s) => s.key));
    expect(await drawnSteps(page, imported)).toEqual(await drawnSteps(page, twoHop));
    // The same card for the same arrow.
    const panel = page.locator(`#panel-${imported}`);
    await panel.locator('.step[data-key="message:1>3:username + password"]').click();
    await expect(panel.locator('.ladder-card article[data-kind="socks5.auth"] td.label').allTextContents()).resolves.toEqual(
      await page.locator(`#panel-${twoHop} .inspector article[data-kind="socks5.auth"] td.label`).allTextContents(),
    );
    // The README's picture: the imported session replayed to hop 2's greeting, its card under the diagram.
    await page.setViewportSize({ width: 1280, height: 1200 });
    await panel.locator('.step[data-key="message:1>3:greeting"]').click();
    await panel.locator('.ladder-panel').screenshot({ path: join(ARTIFACTS, 'ladder.png') });
    await page.setViewportSize({ width: 1280, height: 800 });
    // A file that is not a transcript is refused in words, and opens nothing.
    const tabs = await page.evaluate(() => globalThis.__wsocks.tabs().length);
    await page.click('#tab-' + (await page.evaluate(() => globalThis.__wsocks.tabs().find((t) => t.title === 'Open a transcript')!.id)));
    await page.fill('#import-text', '{"target":"x","entries":[{"hop":"one"}],"error":null}');
    await page.click('button:text("Show the pasted transcript")');
    await expect(page.locator('.import-problem').textContent()).resolves.toMatch(/^pasted transcript: not a wsocks transcript: entries\.0\.hop: /);
    expect(await page.evaluate(() => globalThis.__wsocks.tabs().length)).toBe(tabs);
    expect(pageErrors).toEqual([]);
  });
});
