/**
 * How many bytes at the end of `bytes` start a UTF-8 sequence that is not complete yet (0 to 3). Holding them back
 * until the next chunk avoids xterm.js 6.0 dropping a character split across two writes (xterm.js issue #6003).
 */
export function incompleteUtf8Tail(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = bytes[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead byte
    const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return length > back ? back : 0;
  }
  return 0;
}
