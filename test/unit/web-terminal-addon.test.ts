/**
 * The xterm addon's input side, driven the way xterm.js drives it (onData/onBinary events, write callbacks) over a
 * plain pair of Web Streams, as any `{ readable, writable }` (an SSH channel, say) would be. The addon in a real
 * xterm.js in Chromium is covered by test/integration/package-install.test.ts and test/browser/demo.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Terminal } from '@xterm/xterm';
import { escapeContinues, WsocksAttachAddon } from '../../web/src/terminal-addon.ts';

/** The part of xterm.js's Terminal the addon uses. */
function terminal() {
  const listeners: { data?: (d: string) => void; binary?: (d: string) => void } = {};
  const shown: string[] = [];
  const term = {
    onData: (f: (d: string) => void) => ((listeners.data = f), { dispose: () => delete listeners.data }),
    onBinary: (f: (d: string) => void) => ((listeners.binary = f), { dispose: () => delete listeners.binary }),
    write: (d: string | Uint8Array, cb?: () => void) => {
      shown.push(typeof d === 'string' ? d : new TextDecoder().decode(d));
      cb?.();
    },
    attachCustomKeyEventHandler: () => {},
  };
  return { term: term as unknown as Terminal, type: (d: string) => listeners.data!(d), binary: (d: string) => listeners.binary!(d), shown, listeners };
}

/** A pair whose writable collects what the addon sends, and whose readable the test feeds. */
function pair() {
  const sent: number[] = [];
  let feed!: ReadableStreamDefaultController<Uint8Array>;
  const readable = new ReadableStream<Uint8Array>({ start: (c) => void (feed = c) });
  const writable = new WritableStream<Uint8Array>({ write: (chunk) => void sent.push(...chunk) });
  return { readable, writable, sent: () => Buffer.from(sent).toString('latin1'), feed };
}

describe('wsocks/xterm addon', () => {
  it('line mode swallows whole escape sequences: abc, Left, Home, X sends abcX', async () => {
    const t = terminal();
    const p = pair();
    const addon = new WsocksAttachAddon(p, { lineMode: true });
    addon.activate(t.term);
    for (const key of ['a', 'b', 'c', '\x1b[D', '\x1b[H', '\x1bOH', '\x1b[1;5C', '\x1b[15~', '\x1bx', 'X', '\r']) t.type(key);
    await expect.poll(() => p.sent()).toBe('abcX\r\n');
    expect(t.shown.join('')).toBe('abcX\r\n'); // local echo shows no sequence debris either
    addon.dispose();
  });

  it('raw mode sends keys as typed (UTF-8) and onBinary bytes as bytes', async () => {
    const t = terminal();
    const p = pair();
    const addon = new WsocksAttachAddon(p);
    addon.activate(t.term);
    t.type('é\x1b[A');
    t.binary('\x1b[M \xff!');
    await expect.poll(() => p.sent()).toBe('\xc3\xa9\x1b[A\x1b[M \xff!');
    addon.dispose();
    expect(t.listeners).toEqual({});
  });

  it('writes what the readable brings, a UTF-8 character split across chunks in one piece', async () => {
    const t = terminal();
    const p = pair();
    const ends: unknown[] = [];
    const addon = new WsocksAttachAddon(p, { onReadableEnd: (e) => ends.push(e) });
    addon.activate(t.term);
    p.feed.enqueue(Uint8Array.of(0x68, 0xc3));
    p.feed.enqueue(Uint8Array.of(0xa9, 0x21));
    p.feed.close();
    await expect.poll(() => ends).toEqual([undefined]);
    expect(t.shown.join('')).toBe('hé!');
    addon.dispose();
  });

  it('knows where escape sequences end', () => {
    expect(escapeContinues('\x1b')).toBe(true);
    expect(escapeContinues('\x1b[')).toBe(true);
    expect(escapeContinues('\x1b[1;5')).toBe(true);
    expect(escapeContinues('\x1b[1;5D')).toBe(false);
    expect(escapeContinues('\x1bO')).toBe(true);
    expect(escapeContinues('\x1bOH')).toBe(false);
    expect(escapeContinues('\x1bx')).toBe(false);
  });
});
