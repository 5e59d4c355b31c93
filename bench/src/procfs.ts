import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** Returns the kernel's clock ticks per second (CLK_TCK), from getconf. */
export function clockTicksPerSecond(): number {
  ticksPerSecond ??= Number(
    execFileSync('getconf', ['CLK_TCK']).toString().trim(),
  );

  return ticksPerSecond;
}

/**
 * Returns utime + stime in clock ticks from the text of /proc/PID/stat.
 * Fields are counted after the last `)`, because the command name in
 * brackets may contain spaces and brackets itself.
 */
export function parseCpuTicks(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name, field 3 (state) is index 0, so utime (14) and stime (15)
  // are indexes 11 and 12.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new Error(`cannot read utime and stime from /proc stat: ${stat}`);
  }

  return utime + stime;
}

/** CPU time of a process and all its threads so far, in microseconds. */
export function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');

  return (parseCpuTicks(stat) * 1e6) / clockTicksPerSecond();
}

/** Returns VmRSS in bytes from the text of /proc/PID/status. */
export function parseRssBytes(status: string): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (match === null) {
    throw new Error('no VmRSS line in /proc status');
  }

  return Number(match[1]) * 1024;
}

/** Resident set size of a process, in bytes. */
export function processRssBytes(pid: number): number {
  return parseRssBytes(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/** Returns the CPU model and the number of cores, from /proc/cpuinfo. */
export function cpuDescription(): { model: string; cores: number } {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const models = [...cpuinfo.matchAll(/^model name\s*:\s*(.*)$/gm)].map(
    (match) => match[1] ?? '',
  );

  return { model: models[0] ?? 'unknown', cores: models.length };
}

/**
 * Busy time of all cores together, in microseconds, from the first line of
 * /proc/stat: user, nice, system, irq, softirq and steal. Guest time is
 * already counted in user.
 */
export function machineBusyUs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] =
    fields;

  return (
    ((user + nice + system + irq + softirq + steal) * 1e6) /
    clockTicksPerSecond()
  );
}

/**
 * CPU time of this process and of its children that have exited and been
 * waited for, in microseconds (utime, stime, cutime and cstime).
 */
export function ownTreeCpuUs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const total =
    (fields[11] ?? 0) +
    (fields[12] ?? 0) +
    (fields[13] ?? 0) +
    (fields[14] ?? 0);

  return (total * 1e6) / clockTicksPerSecond();
}

/**
 * Measures how much of the machine processes outside the harness used
 * while `work` ran: every core's busy time less the harness's own and that
 * of its children. Valid when every child started in `work` has exited and
 * been waited for by the time it resolves.
 */
export async function measureForeignLoad<T>(
  work: () => Promise<T>,
): Promise<{ result: T; foreignCoreShare: number }> {
  const cores = cpuDescription().cores;
  const busyBefore = machineBusyUs();
  const ownBefore = ownTreeCpuUs();
  const start = performance.now();
  const result = await work();
  const wallUs = (performance.now() - start) * 1000;
  const foreignUs = machineBusyUs() - busyBefore - (ownTreeCpuUs() - ownBefore);

  return {
    result,
    foreignCoreShare: Math.max(0, foreignUs / (wallUs * cores)),
  };
}

/** Busy share of the machine below which a measured run may start. */
export const QUIET_SHARE = 0.1;

/**
 * Waits, at most `maxWaitMs`, until the machine's busy share over 300 ms is
 * below {@link QUIET_SHARE}, so that a run does not start while another
 * program is busy. Returns the last busy share seen (0 to 1).
 */
export async function waitForQuietMachine(maxWaitMs: number): Promise<number> {
  const cores = cpuDescription().cores;
  const deadline = performance.now() + maxWaitMs;
  for (;;) {
    const busyBefore = machineBusyUs();
    const start = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const share =
      (machineBusyUs() - busyBefore) /
      ((performance.now() - start) * 1000 * cores);
    if (share < QUIET_SHARE || performance.now() >= deadline) {
      return share;
    }
  }
}
