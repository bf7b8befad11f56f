/**
 * A reply means different things depending on the request it answers: BND.ADDR of a CONNECT reply is the proxy's
 * side of its connection to the target, of BIND's first reply where the proxy listens, of BIND's second reply the
 * peer that connected, of a UDP ASSOCIATE reply the relay. The decoders take this context and word each field by it.
 */
import { Command, Socks4ReplyCode, Socks5ReplyCode, socks4ReplyText, socks5ReplyText } from './constants.ts';

/** Which request a reply answers. */
export interface ReplyContext {
  /** CONNECT, BIND or UDP ASSOCIATE (the request's CMD / CD). */
  command: number;
  /** BIND sends two replies: 1 when the proxy listens, 2 when a peer has connected. Default 1. */
  bindReply?: 1 | 2;
}

/** What a reply is, in words: "reply to CONNECT", "BIND's second reply". */
export function replyContextText(context: ReplyContext | undefined): string {
  if (!context) return 'reply';
  if (context.command === Command.BIND) return context.bindReply === 2 ? "BIND's second reply (a peer connected)" : "BIND's first reply (the proxy listens)";
  if (context.command === Command.UDP_ASSOCIATE) return 'reply to UDP ASSOCIATE';
  if (context.command === Command.CONNECT) return 'reply to CONNECT';
  return 'reply';
}

/** REP of a SOCKS5 reply in words, for the request it answers. */
export function socks5ReplyMeaning(code: number, context: ReplyContext | undefined): string {
  if (code !== Socks5ReplyCode.SUCCEEDED) {
    const base = socks5ReplyText(code);
    if (context?.command === Command.BIND && context.bindReply === 2) return `${base}: the incoming connection failed; the server closes`;
    return context ? `${base}: the request failed; the server closes the connection` : base;
  }
  if (!context) return 'succeeded';
  switch (context.command) {
    case Command.CONNECT:
      return 'succeeded: the proxy connected to the destination; from here on this connection carries its bytes';
    case Command.BIND:
      return context.bindReply === 2
        ? 'succeeded: the expected peer connected; from here on this connection carries its bytes'
        : 'succeeded: the proxy listens for the peer (the first of two replies)';
    case Command.UDP_ASSOCIATE:
      return 'succeeded: the relay is ready; the association lives as long as this TCP connection';
    default:
      return 'succeeded';
  }
}

/** CD of a SOCKS4 reply in words, for the request it answers. */
export function socks4ReplyMeaning(code: number, context: ReplyContext | undefined): string {
  if (code === Socks4ReplyCode.GRANTED && context) {
    if (context.command === Command.BIND) {
      return context.bindReply === 2 ? 'request granted: the expected peer connected' : 'request granted: the proxy listens for the peer (the first of two replies)';
    }
    return 'request granted: the proxy connected to the destination';
  }
  if (code === Socks4ReplyCode.NO_IDENTD) return 'rejected: the SOCKS server could not reach identd (RFC 1413) on the client to check the user id';
  if (code === Socks4ReplyCode.IDENTD_MISMATCH) return 'rejected: identd on the client names a different user than USERID';
  return socks4ReplyText(code);
}

/** What BND.ADDR / BND.PORT of a SOCKS5 reply (or DSTIP / DSTPORT of a SOCKS4 reply) hold. */
export function boundAddressMeaning(context: ReplyContext | undefined, success: boolean, part: 'address' | 'port'): string {
  if (!success) return `not meaningful in a failure reply (usually zero)`;
  if (!context) return part === 'address' ? 'address the server bound' : 'port the server bound';
  switch (context.command) {
    case Command.CONNECT:
      return part === 'address'
        ? "the proxy's own address on its connection to the destination"
        : "the proxy's own port on its connection to the destination";
    case Command.BIND:
      return context.bindReply === 2
        ? part === 'address'
          ? 'address of the peer that connected'
          : 'port of the peer that connected'
        : part === 'address'
          ? 'where the proxy listens: tell the peer to connect to this address'
          : 'where the proxy listens: tell the peer to connect to this port';
    case Command.UDP_ASSOCIATE:
      return part === 'address'
        ? 'the relay: send datagrams (each with the RFC 1928 §7 header) to this address'
        : 'the relay: send datagrams to this port';
    default:
      return part === 'address' ? 'address the server bound' : 'port the server bound';
  }
}

/** What DST.ADDR / DST.PORT of a request hold, for its command. */
export function requestAddressMeaning(command: number, part: 'address' | 'port'): string {
  switch (command) {
    case Command.BIND:
      return part === 'address' ? 'the peer expected to connect (the proxy may check it; zeros for any)' : 'the peer’s expected port (zero for any)';
    case Command.UDP_ASSOCIATE:
      return part === 'address'
        ? 'where the client will send datagrams from (zeros if not known yet)'
        : 'the port the client will send datagrams from (zero if not known)';
    default:
      return part === 'address' ? 'destination the proxy connects to' : 'destination port';
  }
}
