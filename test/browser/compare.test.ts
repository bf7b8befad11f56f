/** The compare view in Chromium: the same CONNECT as SOCKS4, SOCKS4a and SOCKS5, with the right bytes, aligned. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openDemoPage, type DemoPage } from '../helpers/demo-page.ts';
import { seriousViolationsEverywhere } from '../helpers/axe.ts';

describe('compare view in Chromium', () => {
  let harness: DemoPage;
  let page: Page;

  beforeAll(async () => {
    harness = await openDemoPage({ width: 1280, height: 900 });
    ({ page } = harness);
    await page.click('#tool-compare');
    await page.waitForSelector('[data-view="compare"] #cmp-host');
  });
  afterAll(async () => {
    await harness?.close();
  });

  const column = (enc: string) => page.locator(`[data-view="compare"] .compare-column[data-encoding="${enc}"]`);
  const cells = (role: string) => page.locator(`[data-view="compare"] tr[data-role="${role}"] td`).allTextContents();

  it('shows a name: SOCKS4 cannot, SOCKS4a and SOCKS5 byte for byte, aligned by field', async () => {
    await page.fill('#cmp-host', 'example.com');
    await page.fill('#cmp-port', '80');
    expect(await column('SOCKS4').locator('.cmp-error').textContent()).toMatch(/IPv4 addresses only/);
    expect((await column('SOCKS4a').locator('.hex').textContent())?.replace(/\s+/g, ' ').trim()).toBe('04 01 00 50 00 00 00 01 00 65 78 61 6d 70 6c 65 2e 63 6f 6d 00');
    expect((await column('SOCKS5').locator('.hex').textContent())?.replace(/\s+/g, ' ').trim()).toBe('05 01 00 03 0b 65 78 61 6d 70 6c 65 2e 63 6f 6d 00 50');
    const port = await cells('port');
    expect(port[0]).toBe('—');
    expect(port[1]).toMatch(/^00 50 DSTPORT@2/);
    expect(port[2]).toMatch(/^00 50 DST.PORT@16/);
    expect((await cells('address type'))[2]).toMatch(/^03 ATYP/);
  });

  it('shows an IPv4 address with a user id: all three encodable', async () => {
    await page.fill('#cmp-host', '192.0.2.7');
    await page.fill('#cmp-port', '443');
    await page.fill('#cmp-user', 'bob');
    expect((await column('SOCKS4').locator('.hex').textContent())?.replace(/\s+/g, ' ').trim()).toBe('04 01 01 bb c0 00 02 07 62 6f 62 00');
    expect((await column('SOCKS5').locator('.hex').textContent())?.replace(/\s+/g, ' ').trim()).toBe('05 01 00 01 c0 00 02 07 01 bb');
    expect(await column('SOCKS4a').locator('.cmp-note').textContent()).toMatch(/same bytes as SOCKS4/);
    expect((await cells('user id'))[0]).toMatch(/^62 6f 62 USERID@8/);
    expect(await seriousViolationsEverywhere(page)).toEqual([]);
  });
});
