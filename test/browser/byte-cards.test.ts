/**
 * Byte cards in Chromium: paragraphs and RFC links per field, this project's own names marked, the password switch
 * (config secrets masked for good, the learner's own shown from the page's memory), a wrong password's failure
 * card with the STATUS byte and the RFC 1929 rule, and the pcapng export of a two-hop session opened with tshark:
 * SOCKS on both hops, RFC 1929 on hop 2.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { DEMO_USER, type Demo } from '../../server/demo/demo.ts';
import { openDemoPage, openFromForm, waitForStatus, type DemoPage, type FormHop } from '../helpers/demo-page.ts';

const toHexBytes = (s: string) => Array.from(new TextEncoder().encode(s), (b) => b.toString(16).padStart(2, '0')).join(' ');

describe('byte cards and the pcapng export in Chromium', () => {
  let harness: DemoPage;
  let demo: Demo;
  let page: Page;
  let pageErrors: string[];
  const dir = mkdtempSync(join(tmpdir(), 'wsocks-cards-'));

  beforeAll(async () => {
    harness = await openDemoPage({ width: 1280, height: 900 }, { acceptDownloads: true });
    ({ demo, page, pageErrors } = harness);
  });
  afterAll(async () => {
    await harness?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const openEcho = (route: string, hops?: FormHop[]) => openFromForm(page, 'echo', route, 'tcp', hops);

  it('a config route: paragraphs, RFC links, own names marked, the password masked for good; the pcapng shows SOCKS on both hops', async () => {
    const id = await openEcho('two-hop');
    await waitForStatus(page, id, 'open');
    await page.keyboard.type('pcap me');
    await page.keyboard.press('Enter');
    await page.waitForFunction((i) => (globalThis.__wsocks.terminalText(i)?.match(/pcap me/g) ?? []).length >= 2, id);
    const auth = page.locator(`#panel-${id} article[data-kind="socks5.auth"]`);
    // Masked, and saying so: ** instead of bytes, no switch to turn it on.
    expect(await auth.locator('.hex').textContent()).toContain('** **');
    expect(await auth.locator('.hex .bytes.masked').count()).toBe(1);
    await expect(auth.locator('input.reveal').isDisabled()).resolves.toBe(true);
    expect(await auth.locator('.password-switch').textContent()).toContain('bridge’s config');
    // Paragraphs and links.
    const statusDoc = page.locator(`#panel-${id} article[data-kind="socks5.auth-reply"] tr.doc`).last();
    expect(await statusDoc.textContent()).toMatch(/MUST close the connection/);
    expect(await statusDoc.locator('a.spec').getAttribute('href')).toBe('https://www.rfc-editor.org/rfc/rfc1929#section-2');
    expect(await auth.locator('td.name.own').allTextContents()).toEqual(['wsocks.username_length (wsocks’ own)', 'wsocks.password_length (wsocks’ own)']);
    const reply = page.locator(`#panel-${id} article[data-kind="socks5.reply"][data-hop="1"]`);
    expect(await reply.locator('tr:has(td.label:text-is("BND.ADDR")) td.meaning').textContent()).toBe("the proxy's own address on its connection to the destination");
    expect(await reply.locator('.spec-line a.spec').getAttribute('href')).toBe('https://www.rfc-editor.org/rfc/rfc1928#section-6');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click(`#panel-${id} button.export-pcapng`)]);
    const file = join(dir, 'two-hop.pcapng');
    await download.saveAs(file);
    const fields = execFileSync('tshark', ['-r', file, '-Y', 'socks', '-T', 'fields', '-E', 'separator=|', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'socks.version', '-e', 'socks.auth_method', '-e', 'socks.username', '-e', 'socks.auth_status', '-e', 'socks.results'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .trim()
      .split('\n');
    const conv1 = fields.filter((l) => l.startsWith('10.1.0.1|') || l.startsWith('10.1.0.2|10.1.0.1'));
    const conv2 = fields.filter((l) => l.startsWith('10.1.0.2|10.1.0.3') || l.startsWith('10.1.0.3|'));
    // Hop 1: greeting, method, request, reply, all dissected as SOCKS5.
    expect(conv1.length).toBeGreaterThanOrEqual(4);
    expect(conv1.every((l) => l.split('|')[2] === '5')).toBe(true);
    // Hop 2, its own conversation: the greeting offers 0x02, RFC 1929 with the username, STATUS 0 success.
    expect(conv2.some((l) => l.split('|')[3] === '0,2')).toBe(true);
    expect(conv2.some((l) => l.split('|')[4] === DEMO_USER.username)).toBe(true);
    expect(conv2.some((l) => l.startsWith('10.1.0.3|') && l.split('|')[5] === '0')).toBe(true);
    expect(conv2.filter((l) => l.startsWith('10.1.0.3|') && l.split('|')[6] === '0').length).toBe(1);
    // The masked password is a placeholder, and the packet says so.
    const verbose = execFileSync('tshark', ['-r', file, '-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 });
    expect(verbose).toContain("PASSWD masked: bytes");
    expect(verbose).toContain(`conversation 2: hop 1 connects to hop 2 at 127.0.0.1:${demo.socks[1].address.port}`);
    expect(verbose).not.toContain(DEMO_USER.password);
    expect(verbose).toMatch(/Password: \*{13}/);
  });

  it('a custom chain: the learner’s own password can be shown as its real bytes; the bridge never sent it', async () => {
    const [a, b] = demo.socks.map((s) => s.address.port) as [number, number];
    const id = await openEcho('(custom chain)', [{ port: a }, { port: b, username: DEMO_USER.username, password: DEMO_USER.password }]);
    await waitForStatus(page, id, 'open');
    const auth = page.locator(`#panel-${id} article[data-kind="socks5.auth"]`);
    const masked = await auth.locator('.hex').textContent();
    expect(masked).toContain('** **');
    expect(masked).not.toContain(toHexBytes(DEMO_USER.password));
    const reveal = auth.locator('input.reveal');
    await expect(reveal.isDisabled()).resolves.toBe(false);
    await reveal.check();
    const shown = await auth.locator('.hex').textContent();
    expect(shown).toContain(toHexBytes(DEMO_USER.password));
    expect(shown).not.toContain('**');
    expect(await auth.locator('tr:has(td.label:text-is("PASSWD")) td.value').textContent()).toBe(DEMO_USER.password);
    await reveal.uncheck();
    expect(await auth.locator('.hex').textContent()).toContain('** **');
  });

  it('a wrong password: the failure card names the STATUS byte, the RFC 1929 rule and advice', async () => {
    const [a, b] = demo.socks.map((s) => s.address.port) as [number, number];
    const id = await openEcho('(custom chain)', [{ port: a }, { port: b, username: DEMO_USER.username, password: 'wrong' }]);
    await waitForStatus(page, id, 'error');
    const failure = page.locator(`#panel-${id} .card.failure`);
    expect(await failure.locator('.failed-byte').textContent()).toBe('The byte: STATUS 0x01 (byte 1 of the username/password reply from hop 2)');
    expect(await failure.locator('.rule').textContent()).toContain('any other value is a failure, and the server must close the connection');
    expect(await failure.locator('.rule a.spec').getAttribute('href')).toBe('https://www.rfc-editor.org/rfc/rfc1929#section-2');
    expect(await failure.locator('.advice').textContent()).toMatch(/username or the password/);
    const reply = page.locator(`#panel-${id} article[data-kind="socks5.auth-reply"]`);
    expect(await reply.locator('.hex').textContent()).toBe('01 01 ');
    expect(pageErrors).toEqual([]);
  });
});
