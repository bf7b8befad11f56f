/**
 * The paragraphs of the byte cards: for every field the codec names, why it exists and what its other values would
 * mean; and the link to the text that defines it. Kept here, in the demo UI, so that the words never reach the
 * client library's bundle (test/unit/client-size.test.ts). Every field name the decoders produce has an entry
 * (test/unit/web-field-docs.test.ts).
 */
import type { Field } from '../../shared/socks/reader.ts';

/** Which protocol a field belongs to: the same Wireshark name (`socks.version`) means different bytes in each. */
export type FieldFamily = 'socks5' | 'rfc1929' | 'rfc1961' | 'udp' | 'socks4';

export function familyOf(field: Pick<Field, 'spec'>): FieldFamily {
  if (field.spec.startsWith('SOCKS4')) return 'socks4';
  if (field.spec.startsWith('RFC 1929')) return 'rfc1929';
  if (field.spec.startsWith('RFC 1961')) return 'rfc1961';
  if (field.spec.startsWith('RFC 1928 §7')) return 'udp';
  return 'socks5';
}

const NEC_SOCKS4 = 'https://www.openssh.com/txt/socks4.protocol';
const NEC_SOCKS4A = 'https://www.openssh.com/txt/socks4a.protocol';

/** The address of the text a `spec` names: `RFC 1928 §6` -> rfc-editor.org/rfc/rfc1928#section-6; NEC for SOCKS4. */
export function specUrl(spec: string): string | undefined {
  const rfc = /RFC (\d+)(?: §(\d+))?/.exec(spec);
  if (rfc) return `https://www.rfc-editor.org/rfc/rfc${rfc[1]}${rfc[2] ? `#section-${rfc[2]}` : ''}`;
  if (spec.startsWith('SOCKS4a')) return NEC_SOCKS4A;
  if (spec.startsWith('SOCKS4')) return NEC_SOCKS4;
  return undefined;
}

/** Whether a field name is Wireshark's (shown as is) or this project's own (`wsocks.` prefix, shown as such). */
export function isOwnName(name: string): boolean {
  return name.startsWith('wsocks.');
}

const DOCS: Record<string, string> = {
  // SOCKS5, RFC 1928
  'socks5/socks.version':
    'Every SOCKS5 message begins with 0x05 so that a server can tell SOCKS5 from SOCKS4 (0x04) by the first byte of a connection. Any other value is not SOCKS5: a server closes the connection, and a client that reads anything else from a "SOCKS5" proxy is talking to something else (an HTTP proxy answers with "H", 0x48).',
  'socks5/socks.auth_method_count':
    'NMETHODS says how many METHOD bytes follow, 1 to 255, so that the server knows where the greeting ends. Zero is invalid: a client that offers nothing cannot be served.',
  'socks5/socks.auth_method':
    'One authentication method the client can do. 0x00 is no authentication, 0x01 GSSAPI (RFC 1961), 0x02 username/password (RFC 1929), 0x03–0x7F are assigned by IANA, 0x80–0xFE are for private use. 0xFF is never offered: it is the server’s "none of these".',
  'socks5/socks.auth_accepted_method':
    'The server picks exactly one of the offered methods, and the sub-negotiation of that method follows (none for 0x00; RFC 1929 for 0x02). 0xFF means no offered method is acceptable: the client must close the connection. A server that picks a method the client did not offer is broken; clients give up.',
  'socks5/socks.command':
    'CMD says what the client wants: 0x01 CONNECT (a TCP connection to DST), 0x02 BIND (the proxy listens for one incoming connection, for protocols such as active-mode FTP), 0x03 UDP ASSOCIATE (a UDP relay). Anything else gets REP 0x07 "command not supported".',
  'socks5/socks.reserved': 'RSV is reserved and must be 0x00. It exists to keep the layout fixed; receivers ignore its value.',
  'socks5/socks.address_type':
    'ATYP says how the address that follows is written: 0x01 an IPv4 address (4 bytes), 0x03 a domain name (a length byte, then the name; the proxy resolves it), 0x04 an IPv6 address (16 bytes). A server answers an unknown ATYP with REP 0x08 "address type not supported" and closes: it cannot even tell where the message ends.',
  'socks5/socks.dst':
    'An IPv4 address, 4 bytes in network order. In a request it is the destination (CONNECT), the peer expected (BIND) or where datagrams will come from (UDP ASSOCIATE); in a reply its meaning depends on the request, as the row says. 0.0.0.0 means "unspecified".',
  'socks5/socks.dstV6': 'An IPv6 address, 16 bytes in network order; the same roles as an IPv4 address. :: means "unspecified".',
  'socks5/wsocks.remote_name_length':
    'ATYP 0x03 names a host instead of an address: this byte gives the name’s length (1–255), as the name carries no terminator. Wireshark shows it as part of the name; this project names it on its own so that every byte has a row.',
  'socks5/socks.remote_name':
    'A host name the proxy resolves itself, so the client needs no DNS and the proxy’s view of the name is used (this is how a proxy can reach names the client cannot). RFC 1928 says "fully-qualified domain name"; in practice any visible-ASCII name is sent as is.',
  'socks5/socks.port': 'A port in network byte order (big-endian, two bytes). Its role, like the address’s, depends on the message and, in a reply, on the request it answers. 0 means "unspecified".',
  'socks5/socks.results':
    'REP says how the request went: 0x00 succeeded; 0x01 general failure, 0x02 not allowed by the ruleset, 0x03 network unreachable, 0x04 host unreachable, 0x05 connection refused, 0x06 TTL expired (many proxies say this for a timeout), 0x07 command not supported, 0x08 address type not supported; 0x09–0xFF are unassigned. After a failure reply the server closes the connection (RFC 1928 §6: within 10 seconds). BIND sends two replies, each with its own REP.',
  // RFC 1929
  'rfc1929/socks.subnegotiation_version':
    'The version of the username/password sub-negotiation, 0x01, not the SOCKS version: RFC 1929 runs inside SOCKS5 after the server picked method 0x02. Any other value is a protocol error and the server closes.',
  'rfc1929/wsocks.username_length': 'ULEN gives the username’s length, 1–255 bytes; the name carries no terminator. Wireshark does not name this byte; this project does, so every byte has a row.',
  'rfc1929/socks.username': 'The username, as bytes: the server compares bytes, not characters, so UTF-8 names work only if both sides agree on the encoding.',
  'rfc1929/wsocks.password_length': 'PLEN gives the password’s length, 0–255 bytes. Wireshark does not name this byte; this project does.',
  'rfc1929/socks.password':
    'The password, in clear text: anyone who can see this connection can read it (RFC 1929 has no protection of its own; run SOCKS over a trusted link or a tunnel). The bridge never sends a password back in a transcript: masked bytes show as ** here, and only a password you typed yourself can be shown, from this page’s own memory.',
  'rfc1929/socks.auth_status':
    'STATUS 0x00 means the username and password were accepted, and the client goes on with its request. Any other value is a failure, and the server MUST close the connection (RFC 1929 §2): there is no second try on the same connection.',
  // GSS-API, RFC 1961
  'rfc1961/wsocks.gssapi.version':
    'The version of the GSS-API sub-negotiation, 0x01, not the SOCKS version: RFC 1961 runs inside SOCKS5 after the server picked method 0x01. Wireshark does not name this byte; this project does.',
  'rfc1961/socks.gssapi.command':
    'MTYP says what the message carries: 0x01 a context-establishment token, 0x02 the protection level negotiation, 0x03 encapsulated (wrapped) user data; 0xFF aborts: the sender refuses and closes the connection.',
  'rfc1961/socks.gssapi.length': 'LEN, the token’s length in bytes (big-endian, 1–65535): GSS-API tokens are opaque, so only the length says where this one ends.',
  'rfc1961/socks.gssapi.data':
    'The GSS-API token, opaque to SOCKS: produced and consumed by the GSS-API library (Kerberos, in practice). After the context is set up, the SOCKS5 request and reply may travel wrapped in such tokens.',
  // UDP, RFC 1928 §7
  'udp/wsocks.udp.reserved': 'RSV, two bytes of 0x00 at the front of every relayed datagram. Wireshark does not name them; this project does.',
  'udp/socks.fragment_number':
    'FRAG 0x00 is a whole datagram. 0x01–0x7F number the fragments of a larger one, with the high bit marking the last; relays that do not reassemble (most, ours included) drop every datagram whose FRAG is not 0.',
  'udp/socks.address_type': 'ATYP of the datagram’s address, as in a request: 0x01 IPv4, 0x03 domain name, 0x04 IPv6.',
  'udp/socks.dst': 'Sent to the relay: where the relay forwards the datagram. Received from the relay: who sent it. IPv4.',
  'udp/socks.dstV6': 'Sent to the relay: where the relay forwards the datagram. Received from the relay: who sent it. IPv6.',
  'udp/wsocks.remote_name_length': 'The length of the domain name that follows (ATYP 0x03), 1–255: the name carries no terminator.',
  'udp/socks.remote_name': 'A host name the relay resolves before forwarding the datagram, so the client needs no DNS of its own.',
  'udp/socks.port': 'The destination port (sent) or the sender’s port (received), big-endian.',
  'udp/wsocks.udp.data': 'The datagram’s payload, unchanged. Each datagram travels alone: none is merged or split, and any may be lost.',
  // SOCKS4 and 4a, NEC documents
  'socks4/socks.version':
    'VN is 0x04 in a request, so a server can tell SOCKS4 from SOCKS5 by the first byte. In a reply it is 0x00 (the reply’s own version); some servers echo 0x04, which clients in the wild accept.',
  'socks4/socks.command': 'CD in a request: 0x01 CONNECT or 0x02 BIND. SOCKS4 has no UDP.',
  'socks4/socks.dstport': 'DSTPORT, big-endian. In a request the destination port; in a reply to BIND where the proxy listens (first reply); in a reply to CONNECT it is ignored.',
  'socks4/socks.dst':
    'DSTIP: SOCKS4 carries IPv4 only, so the client resolves names itself. SOCKS4a’s trick: 0.0.0.x with x ≠ 0 (an address no one uses) means "a host name follows the user id, resolve it for me". In a reply to BIND it is where the proxy listens (0.0.0.0: use the proxy’s own address).',
  'socks4/socks.username':
    'USERID, NUL-terminated. SOCKS4 has no password: a server may check the id against identd (RFC 1413) on the client host, which is what replies 0x5C and 0x5D are about.',
  'socks4/wsocks.username_terminator': 'The NUL that ends USERID: SOCKS4 fields carry no length, so the terminator is the only way to find the end.',
  'socks4/socks.v4a_dns_name': 'SOCKS4a: the host name the proxy resolves, NUL-terminated, after USERID. Present only when DSTIP is 0.0.0.x.',
  'socks4/wsocks.v4a_dns_name_terminator': 'The NUL that ends the SOCKS4a host name: like USERID, the name carries no length.',
  'socks4/socks.results':
    'CD in a reply: 0x5A granted; 0x5B rejected or failed (SOCKS4 has one code for refused, unreachable and denied alike); 0x5C rejected because the server could not reach identd on the client; 0x5D rejected because identd reported a different user than USERID. BIND sends two replies.',
};

/** The paragraph for a field: why it exists and what its other values would mean. */
export function fieldParagraph(field: Pick<Field, 'name' | 'spec'>): string | undefined {
  return DOCS[`${familyOf(field)}/${field.name}`];
}

/** Every documented `family/name` key, for the coverage test. */
export function documentedKeys(): string[] {
  return Object.keys(DOCS);
}
