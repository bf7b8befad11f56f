/** Words for each handshake step and reply code, with the section of the specification that defines it. */
import { socks4ReplyText, socks5ReplyText } from '../../shared/socks/constants.ts';
import type { TranscriptEntry } from '../../shared/protocol/messages.ts';

export const STEPS: Record<string, { title: string; spec: string; text: string }> = {
  'socks5.greeting': {
    title: 'Greeting: the client offers authentication methods',
    spec: 'RFC 1928 §3',
    text: 'The client says which SOCKS version it speaks and lists the authentication methods it can use. The server picks one.',
  },
  'socks5.method': {
    title: 'Method selection: the server picks one',
    spec: 'RFC 1928 §3',
    text: '0x00 means no authentication; 0x01 means a GSS-API (Kerberos) exchange follows (RFC 1961); 0x02 means a username/password exchange follows; 0xFF means none is acceptable and the client must close.',
  },
  'socks5.auth': {
    title: 'Username/password request',
    spec: 'RFC 1929 §2',
    text: 'Length-prefixed username and password, in clear text. The bridge never sends a password back: its bytes show as ** (masked, not what was sent). A password you typed yourself for a custom chain can be shown from this page’s memory with the switch; one from the bridge’s config never reaches this page.',
  },
  'socks5.auth-reply': {
    title: 'Username/password reply',
    spec: 'RFC 1929 §2',
    text: 'STATUS 0x00 is success and the request follows. Any other value is a failure, and the server MUST close the connection: there is no second try.',
  },
  'gssapi.context': {
    title: 'GSS-API context token',
    spec: 'RFC 1961 §3',
    text: 'VER 0x01, MTYP 0x01, a 16-bit length, then a token that only GSS-API understands. The client’s first token (gss_init_sec_context) carries its Kerberos service ticket for the proxy (an AP-REQ); the proxy answers with its own token (gss_accept_sec_context; for Kerberos an AP-REP, proving the proxy holds the service key). They trade tokens until both contexts are complete.',
  },
  'gssapi.protection': {
    title: 'GSS-API protection-level subnegotiation',
    spec: 'RFC 1961 §4',
    text: 'MTYP 0x02: the client proposes a level and the proxy answers with the one it chose. 0x01 integrity (every later message signed), 0x02 confidentiality (signed and encrypted), 0x03 per message; 0x00 clear is the NEC/Dante/curl extension. The octet is sealed with gss_wrap, or sent in clear by NEC-style peers (a 1-byte token).',
  },
  'gssapi.encapsulated': {
    title: 'GSS-API encapsulated data',
    spec: 'RFC 1961 §5',
    text: 'MTYP 0x03: with integrity or confidentiality, every later message (the SOCKS5 request, its reply and the connection’s bytes) travels as the gss_wrap token of the data.',
  },
  'gssapi.abort': {
    title: 'GSS-API abort',
    spec: 'RFC 1961 §3',
    text: 'VER 0x01, MTYP 0xFF and nothing more: the peer refuses (no valid ticket, a protection level it does not offer) and closes the connection.',
  },
  'socks5.request': {
    title: 'Request: a command and its address',
    spec: 'RFC 1928 §4, §5',
    text: 'CONNECT (to the next hop or the target), BIND (DST: the peer to expect) or UDP ASSOCIATE (DST: where datagrams will come from, zeros if unknown). Addresses are IPv4, IPv6 or a domain name the proxy resolves.',
  },
  'socks5.reply': {
    title: 'Reply',
    spec: 'RFC 1928 §6',
    text: 'REP 0x00 is success; anything else is a failure and the server closes. What BND holds depends on the request: for CONNECT the proxy’s own side of its connection to the destination; for BIND’s first reply where the proxy listens (tell the peer to connect there), for its second reply the peer that connected; for UDP ASSOCIATE the relay to send datagrams to. After a successful CONNECT (or BIND’s second reply) the connection carries the next protocol.',
  },
  'socks4.request': {
    title: 'SOCKS4 request',
    spec: 'SOCKS4 / SOCKS4a (NEC)',
    text: 'Version, command, port, IPv4 address and a NUL-terminated user id. In SOCKS4a the address is 0.0.0.x and a host name follows.',
  },
  'socks4.reply': {
    title: 'SOCKS4 reply',
    spec: 'SOCKS4 (NEC)',
    text: 'CD 0x5A means granted; 0x5B rejected or failed. For CONNECT, DSTPORT and DSTIP are ignored; BIND’s first reply says where the proxy listens, its second that the peer connected. 0x5C and 0x5D come from an identd check (RFC 1413): the server asked the identd on the client’s host who owns this connection and got no answer (0x5C) or another user than USERID (0x5D).',
  },
  'udp.datagram': {
    title: 'UDP datagram with its SOCKS5 header',
    spec: 'RFC 1928 §7',
    text: 'RSV, FRAG (0: a whole datagram), the address (destination when sent, sender when received), the port, then the payload.',
  },
  resolve: { title: 'Name resolution', spec: 'local step', text: '' },
  gssapi: { title: 'GSS-API (Kerberos) starts', spec: 'local step', text: '' },
  policy: { title: 'Bridge policy', spec: 'local step', text: '' },
  connect: { title: 'TCP connect', spec: 'local step', text: '' },
};

/** "REP 0x02: connection not allowed by ruleset" for a SOCKS5 code, "CD 0x5B: ..." for a SOCKS4 one. */
export function replyCodeText(code: number): string {
  return code >= 0x5a ? `CD 0x${code.toString(16).toUpperCase()}: ${socks4ReplyText(code)}` : `REP 0x${code.toString(16).padStart(2, '0')}: ${socks5ReplyText(code)}`;
}

/** What a reply code usually means in practice, for the failure card. */
export function replyCodeAdvice(code: number): string {
  switch (code) {
    case 0x02:
      return 'The proxy’s rules (its ruleset) do not allow this client, user or destination.';
    case 0x03:
    case 0x04:
      return 'The proxy could not route to the destination, or could not resolve its name.';
    case 0x05:
      return 'The proxy reached the destination host, but nothing listens on that port.';
    case 0x06:
      return 'The destination did not answer in time (many proxies report timeouts as TTL expired).';
    case 0x07:
      return 'The proxy does not implement this command.';
    case 0x08:
      return 'The proxy does not accept this address type.';
    case 0x5b:
      return 'SOCKS4 has one failure code for everything: refused, unreachable, or denied by rules.';
    case 0x5c:
      return 'The proxy checks user ids with identd (RFC 1413, TCP port 113 on the client’s host) and got no usable answer: no identd runs there, a firewall drops port 113, or it answered too late or with garbage.';
    case 0x5d:
      return 'The proxy checks user ids with identd (RFC 1413): the client’s identd named another owner of this connection than the USERID sent, or answered ERROR (NO-USER, HIDDEN-USER). Send the user name of the account that runs the client.';
    default:
      return 'A general failure of the proxy.';
  }
}

/** The byte that decided a failure, the rule that makes it one, and what to do: for the failure card. */
export interface FailureExplanation {
  /** e.g. `STATUS 0x01 (byte 1 of the username/password reply from hop 2)`. */
  byte: string;
  rule: string;
  spec: string;
  advice: string;
}

const hex2 = (n: number) => `0x${n.toString(16).padStart(2, '0').toUpperCase()}`;

/**
 * Finds the message that failed a stream: the last one received from the failing hop whose deciding field (REP, CD,
 * STATUS, METHOD 0xFF) says failure. Undefined when the failure was not a SOCKS answer (a refused TCP connect,
 * policy, a timeout).
 */
export function explainFailure(entries: readonly TranscriptEntry[], hop: number | undefined): FailureExplanation | undefined {
  const received = entries.filter((e) => e.direction === 'received' && (hop === undefined || e.hop === hop));
  const last = received.at(-1);
  if (!last) return undefined;
  const field = (label: string) => last.fields.find((f) => f.label === label);
  const where = (label: string, what: string) => {
    const f = field(label)!;
    return `${label} ${hex2(f.value as number)} (byte ${f.offset} of the ${what} from hop ${last.hop})`;
  };
  if (last.kind === 'socks5.auth-reply' && field('STATUS') && field('STATUS')!.value !== 0) {
    return {
      byte: where('STATUS', 'username/password reply'),
      rule: 'RFC 1929 §2: STATUS 0x00 is success; any other value is a failure, and the server must close the connection.',
      spec: 'RFC 1929 §2',
      advice: 'The proxy rejected the username or the password. Check both (they are compared as bytes: case and encoding matter); a new connection is needed for another try.',
    };
  }
  if (last.kind === 'socks5.method' && field('METHOD')?.value === 0xff) {
    return {
      byte: where('METHOD', 'method selection'),
      rule: 'RFC 1928 §3: 0xFF means none of the offered methods is acceptable; the client must close the connection.',
      spec: 'RFC 1928 §3',
      advice: 'The proxy wants an authentication method this client did not offer: most often username/password. Give the hop a username and password.',
    };
  }
  if (last.kind === 'socks5.reply' && field('REP') && field('REP')!.value !== 0) {
    const code = field('REP')!.value as number;
    return {
      byte: where('REP', 'reply'),
      rule: 'RFC 1928 §6: REP 0x00 is success; any other value is a failure, and the server closes the connection (within 10 seconds).',
      spec: 'RFC 1928 §6',
      advice: replyCodeAdvice(code),
    };
  }
  if (last.kind === 'socks4.reply' && field('CD') && field('CD')!.value !== 0x5a) {
    const code = field('CD')!.value as number;
    return {
      byte: where('CD', 'SOCKS4 reply'),
      rule: 'SOCKS4 (NEC): CD 0x5A is granted; 0x5B, 0x5C and 0x5D are rejections, and the server closes the connection.',
      spec: 'SOCKS4 (NEC)',
      advice: replyCodeAdvice(code),
    };
  }
  return undefined;
}
