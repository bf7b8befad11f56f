// TypeScript: the client's types, checked by `tsc` with the settings `tsc --init` writes (see docs/client.md).
// Reads a service's greeting line, staying connected to the bridge across restarts with reconnecting().
import { connect, reconnecting, WsocksError, type Session, type SessionCloseInfo, type SocketOpenInfo } from 'wsocks/client';

/** Reads until the first newline, or the end of the stream. */
export async function firstLine({ readable }: SocketOpenInfo): Promise<string> {
  const reader = readable.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (text.includes('\n')) break;
  }
  reader.releaseLock();
  return text.split('\n')[0] ?? '';
}

/** One session: the greeting of `hostname:port`, or why not. */
export async function greeting(url: string, hostname: string, port: number, signal?: AbortSignal): Promise<string> {
  const session: Session = await connect(url, signal ? { signal } : {});
  session.addEventListener('error', (event) => console.warn(`session error ${event.error.code}`));
  try {
    const socket = session.open({ hostname, port }, { timeout: 5_000 });
    return await firstLine(await socket.opened);
  } catch (err) {
    if (err instanceof WsocksError) return `${err.code}${err.hop === undefined ? '' : ` at hop ${err.hop}`}`;
    throw err;
  } finally {
    await session.close();
  }
}

/** Watches a service for as long as `signal` allows: a new session (and stream) after each drop. */
export async function watch(url: string, target: string, signal: AbortSignal): Promise<void> {
  for await (const session of reconnecting(url, { signal, retries: 5, minDelay: 1_000 })) {
    const socket = session.open(target);
    console.log(await firstLine(await socket.opened));
    const end: SessionCloseInfo | WsocksError = await session.closed.catch((err: WsocksError) => err);
    console.log(end instanceof WsocksError ? `dropped: ${end.code} (close ${end.closeCode})` : `closed: ${end.code}`);
  }
}
