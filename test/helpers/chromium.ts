/** Debian's Chromium driven by playwright-core (its own browser download cannot work here). */
import { chromium, type Browser } from 'playwright-core';

/** Headless, with a fresh profile (playwright makes one per launch) and no background traffic off the machine. */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return { browser, close: () => browser.close() };
}
