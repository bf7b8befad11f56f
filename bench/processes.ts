/** The bench's view of processes through /proc: CPU time used, and the processes descended from one. */
import { readdirSync, readFileSync } from 'node:fs';

/** Fields of /proc/PID/stat after the command name (which may hold spaces): index 0 is field 3 (state). */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds (user + system, its reaped children included) a process has used so far. */
export function cpuSeconds(pid: number): number {
  // utime is field 14, cstime field 17.
  const f = statFields(pid);
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** Every process descended from `root` (children, their children...), found through /proc; `root` not included. */
export function descendants(root = process.pid): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ppid = Number(statFields(Number(name))[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const pending = [...(children.get(root) ?? [])];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    found.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return found;
}

/** CPU seconds used so far by `pids` together (a process that is gone counts 0). */
export function totalCpuSeconds(pids: number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += cpuSeconds(pid);
    } catch {
      // gone meanwhile
    }
  }
  return sum;
}
