/**
 * The double-sign guard's last-sign state in a file (the `SignStateStore` port of
 * consensus/privval.ts), e.g. `priv_validator_state.json`:
 *
 *   {"height": 12, "round": 0, "step": 2, "signBytes": "<hex>", "signature": "<hex>"}
 *
 * A save goes through chain/durable-file.ts (`<path>.tmp`, fsynced, renamed over `<path>`, the
 * directory fsynced), so after a crash the file holds either the old state or the new one, whole. A missing file is "never
 * signed"; a file that is there but does not parse is an error, never a reset: starting from
 * nothing could let the validator sign a second, conflicting vote. A stray `<path>.tmp` left by a
 * crash before the rename is ignored: its signature was never released.
 */
import { readFileSync } from 'node:fs';
import { fromHex, toHex } from '../chain/bytes.ts';
import { writeFileDurably } from '../chain/durable-file.ts';
import { checkLastSignState, SignStateError, type LastSignState, type SignStateStore } from '../consensus/privval.ts';

const KEYS = ['height', 'round', 'step', 'signBytes', 'signature'];

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
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw fail(`not valid JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('expected a JSON object');
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  if (keys.join() !== [...KEYS].sort().join()) throw fail(`expected exactly the fields ${KEYS.join(', ')}, got ${keys.join(', ') || 'none'}`);
  const hex = (field: string): Uint8Array => {
    const v = o[field];
    if (typeof v !== 'string') throw fail(`${field} must be a hex string`);
    try {
      return fromHex(v);
    } catch {
      throw fail(`${field} must be a hex string`);
    }
  };
  const s = { height: o.height, round: o.round, step: o.step, signBytes: hex('signBytes'), signature: hex('signature') } as LastSignState;
  try {
    return checkLastSignState(s, 'a field');
  } catch (err) {
    if (err instanceof SignStateError) throw fail(err.message);
    throw err;
  }
}
