/**
 * CPU time from /proc (Linux, like the browser tests): the whole machine's busy time over a
 * stretch of work, and one process's own. On a machine whose cores a transfer saturates,
 * throughput follows CPU spent, so these say where a ratio can and cannot go.
 */
import { readFile } from 'node:fs/promises';

/** Clock ticks per second of /proc's counters (USER_HZ: 100 on every Linux we run on). */
const TICKS_PER_SECOND = 100;

/** Seconds every core spent busy since boot (all but idle and iowait), summed. */
export async function machineBusySeconds(): Promise<number> {
  const first = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0]!;
  const ticks = first.trim().split(/\s+/).slice(1).map(Number);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return (ticks.reduce((sum, t) => sum + t, 0) - idle) / TICKS_PER_SECOND;
}

/** User plus system seconds of every thread of `pid` so far. */
export async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** `fn`'s result and the CPU seconds `measure` counted while it ran. */
export async function cpuOf<T>(measure: () => Promise<number>, fn: () => Promise<T>): Promise<{ value: T; cpuS: number }> {
  const before = await measure();
  const value = await fn();
  return { value, cpuS: (await measure()) - before };
}
