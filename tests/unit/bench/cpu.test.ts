import { describe, expect, it } from 'vitest';
import { cpuOf, machineBusySeconds, processCpuSeconds } from '../../bench/cpu.ts';

/** Spins until this process has been charged `seconds` of CPU (or 20 s of wall time pass). */
async function burn(seconds: number): Promise<void> {
  const start = await processCpuSeconds(process.pid);
  const deadline = Date.now() + 20_000;
  let x = 0;
  while ((await processCpuSeconds(process.pid)) - start < seconds && Date.now() < deadline) {
    for (let i = 0; i < 1e6; i++) x += Math.sqrt(i);
  }
  expect(x).toBeGreaterThan(0);
}

describe('bench CPU counters from /proc', () => {
  it("charges this process's own busy time, and the machine's", async () => {
    const machine = await cpuOf(machineBusySeconds, () => cpuOf(() => processCpuSeconds(process.pid), () => burn(0.3)));
    const own = machine.value.cpuS;
    expect(own).toBeGreaterThanOrEqual(0.3);
    // The machine was busy at least while this process was, whatever else ran.
    expect(machine.cpuS).toBeGreaterThanOrEqual(own - 0.05);
    // Sleeping costs (next to) nothing: the counters are CPU time, not wall time.
    const idle = await cpuOf(() => processCpuSeconds(process.pid), () => new Promise((r) => setTimeout(r, 500)));
    expect(idle.cpuS).toBeLessThan(0.3);
  });
});
