/**
 * Proposer-based timestamps (PBTS, as CometBFT v1 runs them): the proposer puts its own clock's
 * time in the block, and a validator prevotes for a FRESH proposal (validRound -1) only if that
 * time was timely when the proposal reached it:
 *
 *     receivedAt - precision - messageDelay(round)  <=  blockTime  <=  receivedAt + precision
 *
 * precision bounds how far apart honest clocks are, messageDelay how long a proposal takes to
 * arrive. A block re-proposed after a polka keeps its original time and is not judged again: +2/3
 * found it timely once (the paper's L28 case), so liveness does not hinge on it staying fresh.
 * messageDelay grows 10% a round so a network whose bound was set too tight still decides.
 *
 * Why PBTS and not BFT time (the median of precommit times): the block's time is known when it
 * is proposed, so contracts read a time the block itself carries and +2/3 of honest validators
 * vouched for, votes keep their present form, and a lying proposer is refused outright instead of
 * moving the median; the price is that a validator whose clock is far off prevotes nil on fresh
 * proposals (docs/architecture.md, "Time").
 */

export interface SynchronyBounds {
  precisionMs: number;
  messageDelayMs: number;
}

/** Longest message delay any round may assume: ten minutes (growth stops there). */
const MAX_DELAY_MS = 600_000;

/** messageDelay × 1.1^round, capped. */
export function messageDelayInRound(bounds: SynchronyBounds, round: number): number {
  const grown = bounds.messageDelayMs * 1.1 ** Math.max(0, round);
  return Math.min(MAX_DELAY_MS, Math.ceil(grown));
}

/** Why a fresh proposal of `round` with time `blockTime`, received at `receivedAt`, is untimely; or null. */
export function untimely(blockTime: number, receivedAt: number, bounds: SynchronyBounds, round: number): string | null {
  const ahead = blockTime - receivedAt;
  if (ahead > bounds.precisionMs) {
    return `block time is ${ahead} ms ahead of this validator's clock (precision ${bounds.precisionMs} ms)`;
  }
  const slack = bounds.precisionMs + messageDelayInRound(bounds, round);
  if (-ahead > slack) {
    return `block time is ${-ahead} ms behind this validator's clock (precision + message delay of round ${round}: ${slack} ms)`;
  }
  return null;
}
