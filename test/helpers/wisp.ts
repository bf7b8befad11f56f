/** The real wisp-js client (npm @mercuryworkshop/wisp-js, LGPL-3.0, a dev dependency) in Node, for the Wisp tests. */
import { client as wisp } from '@mercuryworkshop/wisp-js/client';
import { WispCloseReason } from '../../shared/protocol/wisp-frame.ts';

export interface WispStream {
  send(data: Uint8Array): void;
  close(reason?: number): void;
  onmessage: (data: Uint8Array) => void;
  onclose: (reason: number) => void;
}

export interface WispConnection {
  onopen: () => void;
  onclose: () => void;
  onerror: () => void;
  server_motd: string | null;
  udp_enabled: boolean;
  wisp_version: number;
  create_stream(host: string, port: number, type?: 'tcp' | 'udp'): WispStream;
  close(): void;
}

/** Opens a wisp-js connection (options as wisp-js takes them); resolves once open, or 'closed' if ended first. */
export function openWisp(url: string, options: object = {}): Promise<WispConnection | 'closed'> {
  const conn = new (wisp as { ClientConnection: new (url: string, o: object) => WispConnection }).ClientConnection(url, options);
  return new Promise((resolve, reject) => {
    conn.onopen = () => resolve(conn);
    conn.onclose = () => resolve('closed');
    conn.onerror = () => reject(new Error('wisp connection failed'));
  });
}

/** Opens a wisp-js connection that must open. */
export async function mustOpen(url: string, options: object = {}): Promise<WispConnection> {
  const conn = await openWisp(url, options);
  if (conn === 'closed') throw new Error('the bridge closed the Wisp connection');
  return conn;
}

/** Sends `data` in 16 KiB pieces and reads until as many bytes came back (an echo), or the stream closes. */
export function echo(conn: WispConnection, host: string, port: number, data: Uint8Array): Promise<{ back: Buffer; reason?: number }> {
  return new Promise((resolve) => {
    const s = conn.create_stream(host, port);
    const parts: Uint8Array[] = [];
    let got = 0;
    s.onmessage = (d) => {
      parts.push(new Uint8Array(d));
      got += d.length;
      if (got === data.length) {
        s.close(WispCloseReason.VOLUNTARY);
        resolve({ back: Buffer.concat(parts) });
      }
    };
    s.onclose = (reason) => resolve({ back: Buffer.concat(parts), reason });
    for (let at = 0; at < data.length; at += 16384) s.send(data.subarray(at, at + 16384));
  });
}
