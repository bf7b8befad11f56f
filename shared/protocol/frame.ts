/** Binary data frames: a 4-byte big-endian stream id, then at least one byte of stream data. */
export const FRAME_HEADER_BYTES = 4;

export function encodeDataFrame(id: number, data: Uint8Array): Uint8Array {
  return writeDataFrame(new Uint8Array(FRAME_HEADER_BYTES + data.length), id, data);
}

/** Writes the frame of `data` into `out` (exactly its size) and returns `out`. */
export function writeDataFrame(out: Uint8Array, id: number, data: Uint8Array): Uint8Array {
  out[0] = id >>> 24;
  out[1] = (id >>> 16) & 0xff;
  out[2] = (id >>> 8) & 0xff;
  out[3] = id & 0xff;
  out.set(data, FRAME_HEADER_BYTES);
  return out;
}

/** Splits a frame into id and data; null when it is too short to hold both. The data is a view, not a copy. */
export function decodeDataFrame(frame: Uint8Array): { id: number; data: Uint8Array } | null {
  if (frame.length <= FRAME_HEADER_BYTES) return null;
  const id = ((frame[0]! << 24) | (frame[1]! << 16) | (frame[2]! << 8) | frame[3]!) >>> 0;
  return { id, data: frame.subarray(FRAME_HEADER_BYTES) };
}
