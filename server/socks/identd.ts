/**
 * The identd check of SOCKS4 (RFC 1413): asks the identd on the client's host who owns the client's connection to
 * the SOCKS server, and compares the answer with the request's USERID. One short TCP connection, bounded in time
 * (the check's timeout) and in bytes (one reply line of at most MAX_IDENT_LINE bytes); everything it opens is closed
 * when it settles.
 */
import { Socket } from 'node:net';
import { encodeIdentQuery } from '../../shared/ident/query.ts';
import { IdentReplyParser, type IdentReply } from '../../shared/ident/reply.ts';
import { IdentError, IdentErrorCode } from '../../shared/ident/errors.ts';
import { Socks4ReplyCode } from '../../shared/socks/constants.ts';
import { printable } from '../../shared/socks/address.ts';
import { formatHostPort, unmapIPv4 } from '../net/dial.ts';
import { deadline } from '../net/deadline.ts';

export interface IdentCheckOptions {
  /** Port of the identd on the client's host (113). */
  port: number;
  timeoutMs: number;
}

/** A TCP connection as seen by the SOCKS server: the client's end (remote) and the server's end (local). */
export interface ConnectionEnds {
  clientAddress: string;
  clientPort: number;
  serverAddress: string;
  serverPort: number;
}

/**
 * Asks the client's identd about the connection. Resolves with its reply (USERID or ERROR); rejects with an
 * IdentError: UNREACHABLE, NO_REPLY, TIMEOUT (also when `signal` aborts), or the parser's BAD_REPLY, REPLY_TOO_LONG,
 * PORT_MISMATCH.
 */
export function queryIdentd(ends: ConnectionEnds, options: IdentCheckOptions, signal: AbortSignal): Promise<IdentReply> {
  const identd = formatHostPort(unmapIPv4(ends.clientAddress), options.port);
  const ports = { identdSide: ends.clientPort, querySide: ends.serverPort };
  const { signal: timeout, done } = deadline(options.timeoutMs, signal);
  const socket = new Socket();
  return new Promise<IdentReply>((resolve, reject) => {
    const parser = new IdentReplyParser(ports);
    const fail = (code: IdentError['code'], message: string) => reject(new IdentError(code, `identd at ${identd}: ${message}`));
    const onTimeout = () => fail(IdentErrorCode.TIMEOUT, `no reply within ${options.timeoutMs} ms`);
    if (timeout.aborted) return onTimeout();
    timeout.addEventListener('abort', onTimeout, { once: true });
    socket.on('error', (err: NodeJS.ErrnoException) => fail(IdentErrorCode.UNREACHABLE, err.code ?? err.message));
    socket.once('close', () => fail(IdentErrorCode.NO_REPLY, 'closed before a whole reply line'));
    socket.on('data', (chunk: Buffer) => {
      try {
        const result = parser.push(chunk);
        if (result.done) resolve(result.reply);
      } catch (err) {
        if (err instanceof IdentError) fail(err.code, err.message);
        else reject(err);
      }
    });
    // From the address the client reached us at: the identd finds the connection by both ends.
    socket.connect({ host: unmapIPv4(ends.clientAddress), port: options.port, localAddress: unmapIPv4(ends.serverAddress) }, () => {
      socket.write(encodeIdentQuery(ports));
    });
  }).finally(() => {
    done();
    socket.destroy();
  });
}

/**
 * Checks that the client's identd names `userId` (octet for octet) as the owner of the connection. Resolves when it
 * does; rejects with an IdentError otherwise (USER_MISMATCH, ERROR_REPLY, or one of queryIdentd's).
 */
export async function checkIdent(ends: ConnectionEnds, userId: Uint8Array, options: IdentCheckOptions, signal: AbortSignal): Promise<void> {
  const reply = await queryIdentd(ends, options, signal);
  if (reply.type === 'error') throw new IdentError(IdentErrorCode.ERROR_REPLY, `identd answered ERROR : ${reply.error}`);
  if (!sameOctets(reply.userId, userId)) {
    throw new IdentError(
      IdentErrorCode.USER_MISMATCH,
      `identd names ${JSON.stringify(printable(reply.userId.subarray(0, 64)))}, the request ${JSON.stringify(printable(userId.subarray(0, 64)))}`,
    );
  }
}

/**
 * The SOCKS4 reply for a failed check: 0x5D when the identd answered but did not confirm the user (another user, or
 * ERROR), 0x5C when no usable answer came (unreachable, silent, timed out, garbage, over-long, wrong ports).
 */
export function identFailureCode(err: IdentError): number {
  return err.code === IdentErrorCode.USER_MISMATCH || err.code === IdentErrorCode.ERROR_REPLY
    ? Socks4ReplyCode.IDENTD_MISMATCH
    : Socks4ReplyCode.NO_IDENTD;
}

function sameOctets(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
