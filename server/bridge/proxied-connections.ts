/**
 * The bridge's TCP front: every connection goes to the HTTP server, and one from a trusted proxy that starts with a
 * PROXY protocol header (v1 or v2, HAProxy `send-proxy[-v2]`) has it read first, so the client's address is known.
 * Other first bytes are plain HTTP (an HTTP proxy such as nginx). A trusted peer that starts a PROXY header and
 * breaks it, or sends nothing for PROXY_HEADER_TIMEOUT_MS, is cut.
 */
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { Server as TlsServer } from 'node:tls';
import type { Cidr } from '../../shared/net/cidr.ts';
import { ProxyHeaderParser, ProxyProtocolError, ProxyProtocolErrorCode, type ProxyHeader } from '../../shared/net/proxy-protocol.ts';
import { unmapIPv4 } from '../net/dial.ts';
import { canonicalIp, isTrustedProxy } from './client-address.ts';

/** How long a trusted proxy may take to send its first bytes and a whole PROXY header. */
export const PROXY_HEADER_TIMEOUT_MS = 10_000;

/** The PROXY header's client (source) of connections that sent one. */
export type ProxiedSockets = WeakMap<Socket, ProxyHeader>;

export interface ProxiedFront {
  server: NetServer;
  /** The PROXY header a connection began with, if any; `socket` may be the TLS socket over it. */
  headerOf(socket: object): ProxyHeader | undefined;
  /** Stops listening and cuts connections still sending their PROXY header; resolves once every connection is gone. */
  close(): Promise<void>;
}

export function proxiedFront(http: HttpServer, trusted: readonly Cidr[], log: (line: string) => void): ProxiedFront {
  const headers: ProxiedSockets = new WeakMap();
  const pending = new Set<Socket>();
  const server = createServer((socket) => {
    const peer = unmapIPv4(socket.remoteAddress ?? '');
    if (!isTrustedProxy(trusted, peer)) return void http.emit('connection', socket);
    socket.on('error', () => socket.destroy());
    const parser = new ProxyHeaderParser();
    const timer = setTimeout(() => {
      log(`connection from trusted proxy ${peer}: no PROXY header or request within ${PROXY_HEADER_TIMEOUT_MS} ms`);
      socket.destroy();
    }, PROXY_HEADER_TIMEOUT_MS);
    pending.add(socket);
    socket.once('close', () => {
      clearTimeout(timer);
      pending.delete(socket);
    });
    const handOver = (rest: Uint8Array) => {
      clearTimeout(timer);
      pending.delete(socket);
      socket.removeListener('data', onData);
      socket.pause();
      if (rest.length > 0) socket.unshift(Buffer.from(rest.buffer, rest.byteOffset, rest.length));
      http.emit('connection', socket);
      // A plain HTTP server reads the socket's stream, which the pause above stopped. A TLS server's TLSSocket takes
      // over the socket's handle and reads the bytes unshifted above itself, on the next tick; resuming here would
      // let them flow out first as 'data' nobody hears: a ClientHello that came with the PROXY header was lost and
      // the connection hung.
      if (!(http instanceof TlsServer)) socket.resume();
    };
    const received: Buffer[] = [];
    const onData = (chunk: Buffer) => {
      received.push(chunk);
      try {
        const r = parser.push(chunk);
        if (!r.done) return;
        const source = r.header.source && canonicalIp(r.header.source.address);
        if (source) headers.set(socket, { ...r.header, source: { address: source, port: r.header.source!.port } });
        else if (r.header.command === 'local') headers.set(socket, r.header);
        handOver(r.rest);
      } catch (err) {
        if (!(err instanceof ProxyProtocolError)) throw err;
        // Plain HTTP from a trusted proxy (nginx): its Forwarded / X-Forwarded-For headers say who the client is.
        if (err.code === ProxyProtocolErrorCode.MISSING) return handOver(Buffer.concat(received));
        log(`connection from trusted proxy ${peer} refused: ${err.code} ${err.message}`);
        socket.destroy();
      }
    };
    socket.on('data', onData);
  });
  const close = () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of pending) s.destroy();
    return closed;
  };
  const headerOf = (socket: object) => {
    // A TLS server wraps the TCP socket the front handed it in a TLSSocket whose _parent is that socket.
    const raw = (socket as { _parent?: unknown })._parent ?? socket;
    return raw instanceof Object ? headers.get(raw as Socket) : undefined;
  };
  return { server, headerOf, close };
}
