import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { originAccepted } from '../../../server/bridge/upgrade-checks.ts';

const req = (origin: string | undefined, host = 'evil.example:8080') => ({ headers: { host, ...(origin === undefined ? {} : { origin }) } }) as IncomingMessage;

describe('originAccepted without configured origins', () => {
  const self = { host: '127.0.0.1', port: 8080 };
  it.each([
    [undefined, true], // not a browser: a Node client, curl (tokens are how to keep them out)
    ['http://127.0.0.1:8080', true],
    ['http://localhost:8080', true],
    ['http://app.localhost:8080', true],
    ['http://[::1]:8080', true],
    // DNS rebinding: a page on a name that now points at the bridge, whatever Host header it sends
    ['http://evil.example:8080', false],
    ['http://127.0.0.1.nip.io:8080', false],
    ['https://127.0.0.1:8080', false], // scheme: the bridge speaks ws, so its pages are http
    ['http://127.0.0.1:8081', false], // another port is another origin (another local app)
    ['http://127.0.0.1', false],
    ['null', false], // sandboxed iframes, file: pages
    ['file://', false],
    ['http://127.0.0.1:8080/path', false], // not an origin
    ['garbage', false],
  ])('Origin %s: %s', (origin, accepted) => {
    expect(originAccepted(undefined, req(origin), self)).toBe(accepted);
    // The Host header the client sends changes nothing.
    expect(originAccepted(undefined, req(origin, '127.0.0.1:8080'), self)).toBe(accepted);
  });

  it('refuses every browser when the bridge listens on a non-loopback address', () => {
    expect(originAccepted(undefined, req('http://127.0.0.1:8080'), { host: '192.0.2.10', port: 8080 })).toBe(false);
    expect(originAccepted(undefined, req('http://192.0.2.10:8080'), { host: '192.0.2.10', port: 8080 })).toBe(false);
    expect(originAccepted(undefined, req(undefined), { host: '192.0.2.10', port: 8080 })).toBe(true);
  });

  it('takes loopback origins on the own port when listening on an unspecified or IPv6 loopback address', () => {
    expect(originAccepted(undefined, req('http://localhost'), { host: '::', port: 80 })).toBe(true);
    expect(originAccepted(undefined, req('http://[::1]:9000'), { host: '::1', port: 9000 })).toBe(true);
  });
});

describe('originAccepted with configured origins', () => {
  const origins = ['https://app.example'];
  const self = { host: '127.0.0.1', port: 8080 };
  it('accepts exactly those, and refuses clients without Origin', () => {
    expect(originAccepted(origins, req('https://app.example'), self)).toBe(true);
    expect(originAccepted(origins, req('http://app.example'), self)).toBe(false);
    expect(originAccepted(origins, req('http://127.0.0.1:8080'), self)).toBe(false);
    expect(originAccepted(origins, req(undefined), self)).toBe(false);
  });
});
