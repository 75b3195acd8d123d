/**
 * One measured figure and the helpers every bench group shares: the `BENCH {...}` line
 * format, percentiles and medians. Groups (channel, chat latency, bundle, signaling load)
 * return `BenchFigure[]`; run.ts prints them and writes latest.json.
 */

export interface BenchFigure {
  /** Dotted, stable name, e.g. `channel.throughput`. */
  name: string;
  value: number;
  /** `MB/s`, `ms`, `kB`, `ratio`, ... */
  unit: string;
  /** The same measurement on the reference path (e.g. a bare data channel), in the same run. */
  baseline?: number;
  /** value ÷ baseline (or the figure itself for pure ratios). */
  ratio?: number;
}

/** The exact line the project reads: `BENCH {"name":…,"value":…,"unit":…,"baseline":…,"ratio":…}`. */
export function formatBenchLine(f: BenchFigure): string {
  const ordered: BenchFigure = { name: f.name, value: f.value, unit: f.unit };
  if (f.baseline !== undefined) ordered.baseline = f.baseline;
  if (f.ratio !== undefined) ordered.ratio = f.ratio;
  return `BENCH ${JSON.stringify(ordered)}`;
}

/** A figure compared with its baseline; both rounded for printing, the ratio from the unrounded values. */
export function compared(name: string, unit: string, value: number, baseline: number, digits = 3): BenchFigure {
  return { name, unit, value: round(value, digits), baseline: round(baseline, digits), ratio: round(value / baseline, 3) };
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new Error('percentile of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) throw new Error('median of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Progress for whoever watches the run; stderr keeps stdout to BENCH lines and summaries. */
export function log(group: string, message: string): void {
  process.stderr.write(`[bench:${group}] ${message}\n`);
}
