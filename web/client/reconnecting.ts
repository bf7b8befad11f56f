/**
 * Sessions one after another, for applications that should stay connected across bridge restarts and network
 * drops. Each session is new: streams are not resumed (the bridge forgets them with the WebSocket), so open them
 * again on every session.
 */
import { WsocksError, WsocksErrorCode, type WsocksErrorCodeValue } from '../../shared/protocol/errors.ts';
import { connect, type ConnectOptions, type Session } from './session.ts';

export interface ReconnectOptions extends ConnectOptions {
  /** Failed attempts in a row before giving up (the iteration then throws the last error); default 10. */
  retries?: number;
  /** Delay ceiling before the first retry, ms; default 500. */
  minDelay?: number;
  /** Largest delay ceiling, ms; default 30 000. */
  maxDelay?: number;
  /** Growth of the ceiling per failed attempt; default 2. */
  factor?: number;
}

/** Refusals that another attempt would only repeat: the iteration throws them at once. */
const FATAL: ReadonlyArray<WsocksErrorCodeValue> = [WsocksErrorCode.UNAUTHORIZED, WsocksErrorCode.ORIGIN_DENIED, WsocksErrorCode.ABORTED];

/**
 * Yields a connected session; asking for the next one waits until that session has closed, then connects again.
 * Before each retry it waits a random delay between half and all of `min(maxDelay, minDelay * factor^n)`, n the
 * failed attempts in a row (equal jitter: clients that lost the same bridge do not come back at once). A session
 * that said hello resets n. It ends (returns) when a session is closed by the application (`session.close()`) or
 * `signal` aborts, and throws after `retries` failures in a row, or at once for ERR_UNAUTHORIZED and
 * ERR_ORIGIN_DENIED. `break` out of the loop to stop reconnecting; the current session stays yours to close.
 *
 * ```ts
 * for await (const session of reconnecting(url, { retries: 5 })) {
 *   const socket = session.open({ host: 'example.com', port: 22 }); // streams are not resumed: open them again
 * }
 * ```
 */
export async function* reconnecting(url: string, options: ReconnectOptions = {}): AsyncGenerator<Session, void, undefined> {
  const { retries = 10, minDelay = 500, maxDelay = 30_000, factor = 2, signal } = options;
  let failures = 0;
  while (!signal?.aborted) {
    let session: Session;
    try {
      session = await connect(url, options);
    } catch (err) {
      const code = (err as WsocksError).code;
      if (FATAL.includes(code) || signal?.aborted) throw err;
      if (++failures > retries) throw err;
      await sleep(Math.min(maxDelay, minDelay * factor ** (failures - 1)), signal);
      continue;
    }
    failures = 0;
    yield session;
    const end = await session.closed.then(
      (info) => info.local,
      (err: WsocksError) => (FATAL.includes(err.code) ? Promise.reject(err) : false),
    );
    if (end) return;
    failures = 1;
    await sleep(minDelay, signal);
  }
}

/** Waits between half and all of `ceiling` ms, or until `signal` aborts. */
function sleep(ceiling: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ceiling / 2 + (Math.random() * ceiling) / 2);
    signal?.addEventListener('abort', done);
  });
}
