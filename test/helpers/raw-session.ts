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
