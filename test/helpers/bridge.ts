import WebSocket from 'ws';
import { connect, type Session } from '../../web/client/index.ts';
import type { WebSocketConstructor } from '../../web/client/websocket-like.ts';
import type { SocketOpenInfo } from '../../web/client/socket.ts';
import type { WsocksError } from '../../shared/protocol/errors.ts';

export function openSession(url: string, options: { token?: string; window?: number } = {}): Promise<Session> {
  return connect(url, { ...options, WebSocket: WebSocket as unknown as WebSocketConstructor });
}

/** Opens one stream to `target` on `route` in a new session; resolves with the error it is refused with (throws if it opens). */
export async function openRefusal(url: string, target: { host: string; port: number }, route: string): Promise<WsocksError> {
  const session = await openSession(url);
  try {
    const socket = session.open(target, { route });
    return await socket.opened.then(
      () => {
        throw new Error(`route ${route} opened`);
      },
      (err: WsocksError) => err,
    );
  } finally {
    session.close();
  }
}

/** Writes `text`, then reads until `expected` bytes have arrived. */
export async function roundTrip(info: SocketOpenInfo, text: string, expected = text.length): Promise<string> {
  const writer = info.writable.getWriter();
  await writer.write(new TextEncoder().encode(text));
  writer.releaseLock();
  return readBytes(info, expected);
}

export async function readBytes(info: SocketOpenInfo, n: number): Promise<string> {
  const reader = info.readable.getReader();
  let out = '';
  let got = 0;
  while (got < n) {
    const { value, done } = await reader.read();
    if (done) break;
    got += value.length;
    out += Buffer.from(value).toString();
  }
  reader.releaseLock();
  return out;
}

export async function readAll(info: SocketOpenInfo): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of info.readable as unknown as AsyncIterable<Uint8Array>) parts.push(chunk);
  return Buffer.concat(parts);
}
