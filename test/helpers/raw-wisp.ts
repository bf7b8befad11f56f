/** A raw Wisp client for tests (docs/compat.md): sends any bytes, reads the bridge's packets in order. */
import { once } from 'node:events';
import WebSocket from 'ws';
import { decodeWispPacket, encodeWispPacket, type WispPacket } from '../../shared/protocol/wisp-frame.ts';
import { encodeWispExtensions, type WispExtension } from '../../shared/protocol/wisp-extensions.ts';

export class RawWisp {
  private readonly queue: WispPacket[] = [];
  private waiter: (() => void) | undefined;
  /** Messages from the bridge that were not Wisp packets (a correct bridge sends none). */
  readonly garbage: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private ended = false;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => {
      const p = decodeWispPacket(d);
      if (!p.ok) this.garbage.push(p.error);
      else this.queue.push(p.packet);
      this.waiter?.();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.ended = true;
        this.waiter?.();
        resolve({ code, reason: reason.toString() });
      }),
    );
  }

  /** Opens `url`: v2 if `protocols` names one, else v1. */
  static async open(url: string, protocols: string[] = ['wisp-v2']): Promise<RawWisp> {
    const ws = new WebSocket(url, protocols);
    const raw = new RawWisp(ws);
    await once(ws, 'open');
    return raw;
  }

  /** Opens a session ready for streams: v1 (its CONTINUE read) or v2 (INFO exchanged, with `extensions`). */
  static async ready(url: string, version: 1 | 2, extensions: WispExtension[] = []): Promise<RawWisp> {
    const raw = await RawWisp.open(url, version === 2 ? ['wisp-v2'] : []);
    if (version === 2) {
      const info = await raw.next();
      if (info?.type !== 'info') throw new Error(`expected INFO, got ${JSON.stringify(info)}`);
      raw.info(extensions);
    }
    const first = await raw.next();
    if (first?.type !== 'continue' || first.id !== 0) throw new Error(`expected CONTINUE on stream 0, got ${JSON.stringify(first)}`);
    return raw;
  }

  /** The next packet; undefined once the WebSocket closed with none left. */
  async next(): Promise<WispPacket | undefined> {
    while (this.queue.length === 0) {
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    return this.queue.shift()!;
  }

  /** The next packet that is not a CONTINUE (stream-open confirmations and flow credit skipped). */
  async nextNotContinue(): Promise<WispPacket | undefined> {
    for (;;) {
      const p = await this.next();
      if (p?.type !== 'continue') return p;
    }
  }

  send(p: WispPacket): void {
    this.ws.send(encodeWispPacket(p));
  }

  sendRaw(bytes: Uint8Array | string, binary = true): void {
    this.ws.send(bytes, { binary });
  }

  info(extensions: WispExtension[]): void {
    this.send({ type: 'info', id: 0, major: 2, minor: 0, extensions: encodeWispExtensions(extensions) });
  }
}
