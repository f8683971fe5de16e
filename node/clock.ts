/**
 * The node's clock port: the one place the node reads the time of day for consensus (block times
 * it proposes, when proposals arrive). HALLMARK_CLOCK_OFFSET_MS shifts it by a signed number of
 * milliseconds, so a test or an operator's drill can run a validator with a skewed clock and see
 * what the timeliness rule (consensus/timeliness.ts) does with it; nothing else reads it.
 */
export type Clock = () => number;

export const CLOCK_OFFSET_ENV = 'HALLMARK_CLOCK_OFFSET_MS';

/** The offset HALLMARK_CLOCK_OFFSET_MS asks for (0 when unset); a malformed value is an error. */
export function clockOffsetFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[CLOCK_OFFSET_ENV];
  if (raw === undefined || raw === '') return 0;
  if (!/^-?\d{1,12}$/.test(raw.trim())) throw new RangeError(`${CLOCK_OFFSET_ENV}: expected a whole number of milliseconds, got ${JSON.stringify(raw)}`);
  return Number(raw.trim());
}

/** Unix milliseconds, shifted by `offsetMs`. */
export function systemClock(offsetMs = 0): Clock {
  return () => Date.now() + offsetMs;
}
