/** A raw wsocks client on `ws`: sends JSON or frames as given, collects every answer and the close. */
import { once } from 'node:events';
import WebSocket from 'ws';

export interface RawSession {
  ws: WebSocket;
  /** Control messages received, parsed. */
  messages: Array<Record<string, unknown>>;
  /** Binary frames received. */
  frames: Buffer[];
  /** Resolves with the first message (received so far or later) that matches. */
  next(pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Resolves with the close code and reason once the WebSocket has closed. */
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
}

/** Opens a session (subprotocol wsocks.v1) and waits for `hello` unless told not to. */
export async function rawSession(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string>; waitHello?: boolean } = {},
): Promise<RawSession> {
  const ws = new WebSocket(url, options.protocols ?? ['wsocks.v1'], options.headers ? { headers: options.headers } : {});
  const messages: Array<Record<string, unknown>> = [];
  const frames: Buffer[] = [];
  let waiters: Array<() => void> = [];
  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  ws.on('message', (data: Buffer, isBinary) => {
    if (isBinary) frames.push(data);
    else messages.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>);
    wake();
  });
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => {
      resolve({ code, reason: reason.toString('utf8') });
      wake();
    }),
  );
  const next = async (pred: (m: Record<string, unknown>) => boolean) => {
    for (;;) {
      const m = messages.find(pred);
      if (m) return m;
      if (ws.readyState === ws.CLOSED) throw new Error(`session closed; messages: ${JSON.stringify(messages).slice(0, 500)}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  await Promise.race([once(ws, 'open'), closed]);
  const session: RawSession = { ws, messages, frames, next, closed, send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)) };
  if (options.waitHello !== false && ws.readyState === ws.OPEN) await next((m) => m.type === 'hello');
  return session;
}

/** WebSocket frames as a client writes them (masked with a zero key, which RFC 6455 allows). */
export function clientFrame(opcode: number, payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
  const len = body.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : len < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff]) : (() => {
    const h = Buffer.alloc(10);
    h[0] = 0x80 | opcode;
    h[1] = 0x80 | 127;
    h.writeBigUInt64BE(BigInt(len), 2);
    return h;
  })();
  return Buffer.concat([head, Buffer.alloc(4), body]);
}

/**
 * A WebSocket client on a bare TCP socket: it completes the upgrade, then the test decides when (or whether) to
 * read. `socket.pause()` makes it a client that stops reading, the kernel buffers fill and the bridge must cope.
 */
export async function tcpSession(port: number, headers: Record<string, string> = {}): Promise<{ socket: import('node:net').Socket; head: Buffer }> {
  const { connect } = await import('node:net');
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wsocks.v1\r\n${extra}\r\n`,
  );
  let got = Buffer.alloc(0);
  while (!got.includes('\r\n\r\n')) got = Buffer.concat([got, (await once(socket, 'data'))[0] as Buffer]);
  const end = got.indexOf('\r\n\r\n') + 4;
  if (!got.subarray(0, 12).toString().includes('101')) throw new Error(`upgrade refused: ${got.toString()}`);
  return { socket, head: got.subarray(end) };
}
