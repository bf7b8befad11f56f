/**
 * The byte lab in Chromium, against the demo's real SOCKS servers through the bridge: a truncated greeting (the
 * server waits, then closes on our FIN without a word), a bad ATYP (REP 0x08, the rejected byte marked), a wrong
 * version, a wrong password (STATUS 0x01), a valid CONNECT whose data comes back from the echo target. A screenshot
 * of the lab goes to test-artifacts/byte-lab.png (docs/img/byte-lab.png with UPDATE_SCREENSHOTS=1).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openDemoPage, type DemoPage } from '../helpers/demo-page.ts';
import { seriousViolationsEverywhere } from '../helpers/axe.ts';

// The screenshot goes to test-artifacts/; with UPDATE_SCREENSHOTS=1 also to docs/img/ (the README's copy).
const ARTIFACTS = join(import.meta.dirname, '../../test-artifacts');
const IMG = process.env.UPDATE_SCREENSHOTS === '1' ? join(import.meta.dirname, '../../docs/img') : ARTIFACTS;

describe('byte lab in Chromium', () => {
  let harness: DemoPage;
  let page: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    mkdirSync(IMG, { recursive: true });
    harness = await openDemoPage({ width: 1280, height: 1000 });
    ({ page, pageErrors } = harness);
    await page.click('#tool-byte-lab');
    await page.waitForSelector('[data-view="byte-lab"] #lab-send');
  });
  afterAll(async () => {
    await harness?.close();
  });

  /** Picks a prepared message (or types hex), sends it, and waits until the connection has ended. */
  async function send(presetId: string, typed?: string): Promise<string> {
    await page.selectOption('#lab-preset', presetId);
    if (typed !== undefined) await page.fill('#lab-hex', typed);
    await page.click('#lab-send');
    await page.waitForFunction(() => /Then (the server|you|the stream)/.test(document.querySelector('.lab-verdict')?.textContent ?? ''), undefined, { timeout: 30_000 });
    return (await page.textContent('.lab-verdict')) ?? '';
  }

  it('a truncated greeting: the server waits for the missing byte, then closes on our FIN without answering', async () => {
    const verdict = await send('truncated');
    expect(verdict).toContain('Incomplete: the SOCKS5 greeting needs 1 more byte');
    expect(verdict).toContain('The server answered nothing.');
    expect(verdict).toContain('Then the server closed the connection');
    const sent = page.locator('.lab-sent .lab-message').first();
    expect(await sent.getAttribute('data-status')).toBe('need');
    expect(await sent.locator('td.label').allTextContents()).toEqual(['VER', 'NMETHODS', 'METHOD']);
    expect(await page.locator('.lab-received .lab-nothing').count()).toBe(1);
  });

  it('a bad ATYP: the rejected byte is marked, and the server’s REP 0x08 reply is decoded field by field', async () => {
    const verdict = await send('bad-atyp');
    expect(verdict).toContain('Rejected byte 6 (0x07): unknown address type 0x07.');
    expect(verdict).toContain('The server answered 12 bytes: 05 00 05 08 00 01 00 00 00 00 00 00.');
    expect(verdict).toContain('Then the server closed the connection');
    const request = page.locator('.lab-sent .lab-message[data-status="error"]');
    expect(await request.locator('.hex .bytes.rejected').textContent()).toBe('07');
    expect(await request.locator('tr.rejected td.label').textContent()).toBe('ATYP');
    const reply = page.locator('.lab-received .lab-message').nth(1);
    expect(await reply.locator('h4').textContent()).toContain('reply');
    expect(await reply.locator('tr:has(td.label:text-is("REP")) td.value').textContent()).toBe('8 (0x08)');
    expect(await reply.locator('tr:has(td.label:text-is("REP")) td.meaning').textContent()).toMatch(/^address type not supported/);
    await page.setViewportSize({ width: 1280, height: 1000 });
    await page.evaluate(() => document.querySelector('.lab-verdict')?.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: join(IMG, 'byte-lab.png') });
    // Everyone can use it: no serious or critical axe violation, wide and narrow, light and dark.
    expect(await seriousViolationsEverywhere(page)).toEqual([]);
  });

  it('a wrong version: rejected at byte 0, closed without a reply', async () => {
    const verdict = await send('version');
    expect(verdict).toContain('Rejected byte 0 (0x06): unknown SOCKS version 0x06');
    expect(verdict).toContain('The server answered nothing.');
  });

  it('a wrong password to server B: STATUS 0x01 and the RFC 1929 rule', async () => {
    const verdict = await send('wrong-password');
    expect(verdict).toContain('The server answered 4 bytes: 05 02 01 01.');
    const status = page.locator('.lab-received .lab-message').nth(1);
    expect(await status.locator('tr:has(td.label:text-is("STATUS")) td.meaning').textContent()).toMatch(/any value but 0x00 is a failure, and the server must close the connection/);
  });

  it('an over-long SOCKS4a name: CD 0x5B, and the byte where the name went past its limit', async () => {
    const verdict = await send('long-name');
    expect(verdict).toContain('Rejected byte 9');
    expect(verdict).toContain('host name longer than 255 bytes');
    expect(verdict).toContain('The server answered 8 bytes: 00 5b 00 00 00 00 00 00.');
    expect(await page.locator('.lab-received .lab-message').first().locator('tr:has(td.label:text-is("CD")) td.meaning').textContent()).toBe('request rejected or failed');
  });

  it('typed hex: a CONNECT with an empty domain name, rejected at its length byte', async () => {
    const verdict = await send('', '0x05,0x01,0x00, 05 01 00 03 00 00 50');
    expect(verdict).toContain('Rejected byte 7 (0x00): empty domain name.');
    expect(verdict).toMatch(/The server answered 12 bytes: 05 00 05 01 /);
  });

  it('a valid CONNECT: the reply, then the echo target’s bytes', async () => {
    const verdict = await send('connect');
    expect(verdict).not.toContain('Rejected');
    expect(verdict).toContain('Then the server closed the connection');
    const titles = await page.locator('.lab-received .lab-message h4').allTextContents();
    expect(titles.map((t) => t.split(' from byte')[0])).toEqual(['method selection', 'reply', 'bytes from the destination']);
    expect(await page.locator('.lab-received .lab-message').last().locator('.hex').textContent()).toContain('68 65 6c 6c 6f 0a');
    expect(pageErrors).toEqual([]);
  });
});
