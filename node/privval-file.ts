/**
 * The double-sign guard's last-sign state in a file (the `SignStateStore` port of
 * consensus/privval.ts), e.g. `priv_validator_state.json`:
 *
 *   {"height": 12, "round": 0, "step": 2, "signBytes": "<hex>", "signature": "<hex>"}
 *
 * A save writes `<path>.tmp`, fsyncs it, renames it over `<path>` and fsyncs the directory, so
 * after a crash the file holds either the old state or the new one, whole. A missing file is "never
 * signed"; a file that is there but does not parse is an error, never a reset: starting from
 * nothing could let the validator sign a second, conflicting vote. A stray `<path>.tmp` left by a
 * crash before the rename is ignored: its signature was never released.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { fromHex, toHex } from '../chain/bytes.ts';
import { writeFileDurably } from '../chain/durable-file.ts';
import { parseJsonText } from '../chain/schema-problems.ts';
import { SIGNATURE_LENGTH } from '../chain/keys.ts';
import {
  checkLastSignState, SignStateError, STEP_PRECOMMIT, STEP_PREVOTE, STEP_PROPOSE, type LastSignState, type SignStateStore,
} from '../consensus/privval.ts';

export class FileSignStateStore implements SignStateStore {
  readonly path: string;

  constructor(path: string) {
    if (typeof path !== 'string' || path === '') throw new TypeError('FileSignStateStore: expected a file path');
    this.path = path;
  }

  load(): LastSignState | null {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return parseSignState(text, this.path);
  }

  save(s: LastSignState): void {
    checkLastSignState(s, 'sign state to save');
    const text = JSON.stringify({ height: s.height, round: s.round, step: s.step, signBytes: toHex(s.signBytes), signature: toHex(s.signature) }, null, 2) + '\n';
    writeFileDurably(this.path, text);
  }
}

/** Parses the file's text; SignStateError 'malformed' says what is wrong and what to do. */
export function parseSignState(text: string, path: string): LastSignState {
  const fail = (what: string) => new SignStateError('malformed', `sign state file ${path}: ${what}. Refusing to start, because starting `
    + 'from nothing could let this validator sign a conflicting vote. Restore the file from a backup; delete it only if you are sure this key has '
    + 'signed nothing on this chain at or above the height the chain is at now');
  const read = parseJsonText(text, SIGN_STATE_SCHEMA);
  if ('problems' in read) throw fail(read.problems.join('; '));
  return read.value;
}

const hexBytes = z.string().regex(/^(?:[0-9a-fA-F]{2})+$/, 'must be a non-empty hex string').transform((h) => fromHex(h));
/** The file's shape: the rules of checkLastSignState (consensus/privval.ts), as JSON. */
const SIGN_STATE_SCHEMA = z.strictObject({
  height: z.int().min(1, 'must be a positive integer'),
  round: z.int().min(0, 'must be a non-negative integer'),
  step: z.literal([STEP_PROPOSE, STEP_PREVOTE, STEP_PRECOMMIT], 'must be 1 (propose), 2 (prevote) or 3 (precommit)'),
  signBytes: hexBytes,
  signature: hexBytes.refine((b) => b.length === SIGNATURE_LENGTH, `must be ${SIGNATURE_LENGTH} bytes`),
});
