/** Counting this process's sockets the way the OS sees them. */
import { readdirSync, readlinkSync } from 'node:fs';

/**
 * Sockets this process holds, counted by the OS (every `socket:[inode]` among /proc/self/fd): a bridge running in
 * this process that left a socket behind shows here whatever its own bookkeeping says.
 */
export function socketFds(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      // closed while we looked
    }
  }
  return n;
}
