/** Datagram payloads for the UDP tab: a DNS query to send, and one line of text for any payload received. */

/** A DNS query (RFC 1035) for an A record, with a random id. */
export function dnsQuery(name: string): Uint8Array {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  const bytes: number[] = [Math.floor(Math.random() * 256), Math.floor(Math.random() * 256), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
  for (const l of labels) bytes.push(l.length, ...Array.from(l.slice(0, 63), (c) => c.charCodeAt(0) & 0x7f));
  bytes.push(0, 0, 1, 0, 1);
  return Uint8Array.from(bytes);
}

/** Text for a datagram: a DNS message decoded in one line, printable text as is, else hex. */
export function describePayload(b: Uint8Array): string {
  if (b.length >= 12 && b[4] === 0 && b[5] === 1 && (b[2]! & 0x78) === 0) {
    let at = 12;
    const labels: string[] = [];
    while (at < b.length && b[at] !== 0 && b[at]! < 64) {
      labels.push(String.fromCharCode(...b.subarray(at + 1, at + 1 + b[at]!)));
      at += 1 + b[at]!;
    }
    const isResponse = (b[2]! & 0x80) !== 0;
    const rcode = b[3]! & 0x0f;
    const name = labels.join('.');
    if (!isResponse) return `DNS query: A ${name}?`;
    if (rcode === 3) return `DNS answer: ${name} does not exist (NXDOMAIN)`;
    const tail = b.subarray(b.length - 4);
    return `DNS answer: ${name} A ${tail.join('.')}`;
  }
  const printable = b.every((x) => x === 9 || x === 10 || x === 13 || (x >= 0x20 && x < 0x7f));
  return printable ? JSON.stringify(new TextDecoder().decode(b)) : Array.from(b.subarray(0, 32), (x) => x.toString(16).padStart(2, '0')).join(' ');
}
