/**
 * The client reuses a data message's buffer for the next message only when the WebSocket holds no byte unsent: a
 * WebSocket that keeps a reference to what it was given (as `ws` does with a frame it could not write at once) must
 * never see that buffer change.
 */
import { describe, expect, it } from 'vitest';
import { Session } from '../../web/client/session.ts';
import type { WebSocketLike } from '../../web/client/websocket-like.ts';
import { decodeDataFrame } from '../../shared/protocol/frame.ts';

/** Keeps every sent buffer by reference and reports `bufferedAmount` as the test sets it. */
class HoldingWebSocket implements WebSocketLike {
  binaryType = 'arraybuffer';
  readyState = 1;
  protocol = 'wsocks.v1';
  bufferedAmount = 0;
  /** What was sent, by reference, and a copy made at the time of sending. */
  readonly sent: Array<{ held: Uint8Array; atSend: Uint8Array }> = [];
  private readonly listeners = new Map<string, Array<(ev: { data?: unknown }) => void>>();
  send(data: string | ArrayBufferView | ArrayBuffer): void {
    if (typeof data === 'string' || data instanceof ArrayBuffer) return;
    const held = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.sent.push({ held, atSend: held.slice() });
  }
  close(): void {}
  addEventListener(type: string, listener: (ev: { data?: unknown }) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  receive(message: object): void {
    for (const l of this.listeners.get('message') ?? []) l({ data: JSON.stringify(message) });
  }
}

async function openedWriter(ws: HoldingWebSocket) {
  const session = new Session(ws, { initial: 1 << 20, max: 1 << 20 });
  ws.receive({ type: 'hello', version: 1, limits: { maxStreams: 8, maxMessageBytes: 65536, window: 1 << 20 }, routes: [], clientChains: false });
  await session.ready;
  const socket = session.open({ host: '127.0.0.1', port: 7 });
  ws.receive({ type: 'opened', id: socket.id, remoteAddress: '127.0.0.1', remotePort: 7, window: 1 << 20 });
  return (await socket.opened).writable.getWriter();
}

const chunk = (fill: number, n = 1000) => new Uint8Array(n).fill(fill);
const dataOf = (frame: Uint8Array) => Array.from(new Set(decodeDataFrame(frame)!.data));

describe('client data message buffers', () => {
  it('while the WebSocket holds unsent bytes, every message keeps a buffer of its own', async () => {
    const ws = new HoldingWebSocket();
    const writer = await openedWriter(ws);
    await writer.write(chunk(1));
    ws.bufferedAmount = 1004; // the first message is not sent yet: its buffer is the WebSocket's
    await writer.write(chunk(2));
    await writer.write(chunk(3, 500));
    expect(ws.sent.map((s) => dataOf(s.held))).toEqual([[1], [2], [3]]);
    expect(ws.sent[1]!.held.buffer).not.toBe(ws.sent[0]!.held.buffer);
    expect(ws.sent[2]!.held.buffer).not.toBe(ws.sent[0]!.held.buffer);
  });

  it('once the WebSocket has sent everything, the next message reuses the buffer', async () => {
    const ws = new HoldingWebSocket();
    const writer = await openedWriter(ws);
    await writer.write(chunk(1));
    await writer.write(chunk(2, 10));
    expect(ws.sent.map((s) => dataOf(s.atSend))).toEqual([[1], [2]]);
    expect(decodeDataFrame(ws.sent[1]!.atSend)!.data).toHaveLength(10);
    expect(ws.sent[1]!.held.buffer).toBe(ws.sent[0]!.held.buffer);
  });
});
