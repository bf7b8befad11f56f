/**
 * Benchmark clients for the WebSocket-to-TCP peers: websockify (one TCP stream per WebSocket, subprotocol `binary`)
 * and wisp-js (many streams on one WebSocket). Each returns bytes received and seconds taken; nothing is asserted
 * here (rounds.ts checks the byte counts).
 */
import WebSocket from 'ws';
import { once } from 'node:events';
import { client as wisp } from '@mercuryworkshop/wisp-js/client';
import { elapsed, type Sink } from './throughput.ts';

/** Downloads from websockify's target until websockify closes the WebSocket. */
export async function websockifyDownload(url: string): Promise<{ bytes: number; seconds: number }> {
  const start = process.hrtime.bigint();
  const ws = new WebSocket(url, 'binary');
  let bytes = 0;
  ws.on('message', (d: Buffer) => (bytes += d.length));
  ws.on('error', () => {}); // websockify's close frames are not always valid; the byte count is what matters
  await once(ws, 'close');
  return { bytes, seconds: elapsed(start) };
}

/**
 * Uploads `total` bytes to websockify's target (a sink), a few chunks in flight, then closes the WebSocket once the
 * sink has them all: websockify drops what it has not yet written when the close frame arrives.
 */
export async function websockifyUpload(url: string, sink: Sink, total: number, chunk: Buffer): Promise<{ bytes: number; seconds: number }> {
  const start = process.hrtime.bigint();
  const received = sink.next();
  const ws = new WebSocket(url, 'binary');
  ws.on('error', () => {});
  await once(ws, 'open');
  await new Promise<void>((resolve, reject) => {
    let sent = 0;
    let inFlight = 0;
    const pump = () => {
      while (inFlight < 8 && sent < total) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        inFlight++;
        ws.send(n === chunk.length ? chunk : chunk.subarray(0, n), (err) => {
          if (err) return reject(err);
          inFlight--;
          if (sent === total && inFlight === 0) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  await sink.reached(total);
  ws.close();
  const bytes = await received;
  return { bytes, seconds: elapsed(start) };
}

type WispStream = {
  onmessage: (data: Uint8Array) => void;
  onclose: (reason: number) => void;
  send(data: Uint8Array): void;
  close(): void;
  send_buffer: unknown[];
};
type WispConnection = {
  onopen: () => void;
  create_stream(host: string, port: number): WispStream;
  close(): void;
  ws: WebSocket;
};

export async function wispConnect(url: string): Promise<WispConnection> {
  const conn = new wisp.ClientConnection(url) as unknown as WispConnection;
  await new Promise<void>((resolve) => (conn.onopen = resolve));
  return conn;
}

/**
 * Downloads one stream through wisp-js: until the server closes it, or with `length` until that many bytes have come
 * (then the client closes it); `onBytes` sees each chunk's size as it arrives.
 */
export function wispDownload(conn: WispConnection, port: number, onBytes?: (n: number) => void, length = Infinity): Promise<{ bytes: number; seconds: number }> {
  const start = process.hrtime.bigint();
  const stream = conn.create_stream('127.0.0.1', port);
  let bytes = 0;
  return new Promise((resolve) => {
    const done = () => resolve({ bytes, seconds: elapsed(start) });
    stream.onclose = done;
    stream.onmessage = (d) => {
      bytes += d.length;
      onBytes?.(d.length);
      if (bytes >= length) {
        stream.close();
        done();
      }
    };
  });
}

/**
 * Uploads through wisp-js. Its client queues whatever the server has no buffer for, without backpressure to the
 * caller, so this waits (polling) while its queue or the WebSocket's buffer is long.
 */
export async function wispUpload(conn: WispConnection, sink: Sink, total: number, chunk: Buffer): Promise<{ bytes: number; seconds: number }> {
  const start = process.hrtime.bigint();
  const received = sink.next();
  const stream = conn.create_stream('127.0.0.1', sink.port);
  const busy = () => stream.send_buffer.length > 4 || conn.ws.bufferedAmount > 4 * chunk.length;
  for (let sent = 0; sent < total; ) {
    while (busy()) await new Promise((r) => setTimeout(r, 1));
    const n = Math.min(chunk.length, total - sent);
    stream.send(n === chunk.length ? chunk : chunk.subarray(0, n));
    sent += n;
  }
  // Like websockify, wisp-js drops what it has not written yet when the CLOSE arrives: close once the sink has it all.
  await sink.reached(total);
  stream.close();
  const bytes = await received;
  return { bytes, seconds: elapsed(start) };
}

/**
 * Downloads one stream from the bridge with a bare `ws` client that speaks docs/protocol.md by hand: it counts the
 * data messages' bytes and grants credit back as soon as a quarter of `window` has arrived (an application that
 * reads at once). Next to our client library, it shows what the bridge costs and what the library costs.
 */
export async function bareBridgeDownload(url: string, port: number, window = 8 * 1024 * 1024): Promise<{ bytes: number; seconds: number }> {
  const start = process.hrtime.bigint();
  const ws = new WebSocket(url, 'wsocks.v1');
  let bytes = 0;
  let unGranted = 0;
  const done = new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('close', () => reject(new Error('the session closed before the stream did')));
    ws.on('message', (d: Buffer, isBinary: boolean) => {
      if (isBinary) {
        const n = d.length - 4;
        bytes += n;
        unGranted += n;
        if (unGranted >= window / 4) {
          ws.send(JSON.stringify({ type: 'credit', id: 1, bytes: unGranted }));
          unGranted = 0;
        }
        return;
      }
      const m = JSON.parse(String(d)) as { type: string; id?: number; message?: string };
      if (m.type === 'hello') ws.send(JSON.stringify({ type: 'open', id: 1, host: '127.0.0.1', port, window }));
      else if (m.type === 'end' && m.id === 1) {
        // The target's FIN: everything has arrived (the library's bench client closes the stream here too).
        ws.send(JSON.stringify({ type: 'close', id: 1 }));
        resolve();
      }
      else if (m.type === 'error') reject(new Error(m.message));
    });
  });
  await done.finally(() => ws.close());
  return { bytes, seconds: elapsed(start) };
}
