/**
 * Benchmark helpers. Every figure is printed as one JSON line; speed is judged by ratios against a
 * baseline measured in the same run, never by absolute thresholds.
 */

export interface Figure {
  bench: string;
  name: string;
  value: number;
  unit: string;
  [extra: string]: unknown;
}

export function report(fig: Figure): void {
  const value = Number.isInteger(fig.value) ? fig.value : Number(fig.value.toPrecision(4));
  process.stdout.write(JSON.stringify({ ...fig, value }) + '\n');
}

/**
 * Runs `op` repeatedly for at least `minMs` (after a short warm-up) and returns operations per
 * second. `op` returns how many operations it performed (for batched work), or nothing for one.
 */
export async function rate(
  op: () => number | void | Promise<number | void>,
  minMs = 1500,
): Promise<number> {
  const warmUntil = performance.now() + Math.min(300, minMs / 4);
  while (performance.now() < warmUntil) await op();
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < minMs) {
    const n = await op();
    ops += typeof n === 'number' ? n : 1;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

/** The median of `xs` (the upper middle one for an even count). */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}
