/**
 * The same CONNECT as SOCKS4, SOCKS4a and SOCKS5, from the shared encoders, decoded field by field and aligned by
 * what each field is for (version, command, port, address, name, user id ...), so the three can be read side by side.
 */
import {
  Command,
  decodeSocks4Request,
  decodeSocks5Request,
  encodeSocks4Request,
  encodeSocks5Request,
  encodeWith,
  parseIPv4,
  toHex,
  type DecodeResult,
  type Field,
} from '../../shared/socks/index.ts';

export type Encoding = 'SOCKS4' | 'SOCKS4a' | 'SOCKS5';
export const ENCODINGS: readonly Encoding[] = ['SOCKS4', 'SOCKS4a', 'SOCKS5'];

export interface EncodedColumn {
  encoding: Encoding;
  /** The request's bytes as hex, or why this encoding cannot carry the CONNECT. */
  hex?: string;
  length?: number;
  error?: string;
  fields: Field[];
  /** What travels before the request on the same connection. */
  before: string;
  note?: string;
}

/** A row of the aligned table: one role, and each encoding's field for it (or none). */
export interface CompareRow {
  role: string;
  cells: Array<Field | undefined>;
}

/** Row order: what a reader looks for first. */
const ROLES = ['version', 'command', 'reserved', 'address type', 'port', 'address', 'name length', 'host name', 'host name end', 'user id', 'user id end'] as const;

function roleOf(f: Field): string {
  switch (f.label) {
    case 'VN':
    case 'VER':
      return 'version';
    case 'CD':
    case 'CMD':
      return 'command';
    case 'RSV':
      return 'reserved';
    case 'ATYP':
      return 'address type';
    case 'DSTPORT':
    case 'DST.PORT':
      return 'port';
    case 'DSTIP':
      return 'address';
    case 'DST.ADDR':
      return f.name === 'socks.remote_name' ? 'host name' : 'address';
    case 'DST.ADDR length':
      return 'name length';
    case 'HOST':
      return 'host name';
    case 'USERID':
      return 'user id';
    case 'NUL':
      return f.name === 'wsocks.username_terminator' ? 'user id end' : 'host name end';
    default:
      return f.label;
  }
}

function column(encoding: Encoding, encode: () => Uint8Array, decode: (b: Uint8Array) => DecodeResult<unknown>, before: string): EncodedColumn {
  const r = encodeWith(encode);
  if (r.status === 'error') return { encoding, error: r.error.message, fields: [], before };
  const d = decode(r.bytes);
  return { encoding, hex: toHex(r.bytes), length: r.bytes.length, fields: d.status === 'done' ? d.fields : [], before };
}

/** The three encodings of CONNECT host:port (with a SOCKS4 user id), and their fields aligned by role. */
export function compareConnect(host: string, port: number, userId = ''): { columns: EncodedColumn[]; rows: CompareRow[] } {
  const columns = [
    parseIPv4(host)
      ? column('SOCKS4', () => encodeSocks4Request({ command: Command.CONNECT, host, port, userId }), decodeSocks4Request, 'nothing: the request is the first byte')
      : { encoding: 'SOCKS4' as const, error: `SOCKS4 carries IPv4 addresses only, not ${JSON.stringify(host)}: the client must resolve the name itself (or use SOCKS4a)`, fields: [], before: '' },
    {
      ...column('SOCKS4a', () => encodeSocks4Request({ command: Command.CONNECT, host, port, userId }), decodeSocks4Request, 'nothing: the request is the first byte'),
      ...(parseIPv4(host) ? { note: 'the same bytes as SOCKS4: SOCKS4a changes only requests for a name (DSTIP 0.0.0.1, the name after the user id)' } : {}),
    },
    column('SOCKS5', () => encodeSocks5Request({ command: Command.CONNECT, host, port }), decodeSocks5Request, 'the greeting (05 01 00) and the server’s method selection (05 00)'),
  ];
  const rows: CompareRow[] = ROLES.map((role) => ({ role, cells: columns.map((c) => c.fields.find((f) => roleOf(f) === role)) })).filter((r) => r.cells.some(Boolean));
  return { columns, rows };
}
