/**
 * The double-sign guard: the only holder of the validator's secret key in consensus. It remembers
 * the last (height, round, step) it signed, with the bytes and signature, in a store that is
 * durable before a signature is returned, and refuses anything that could contradict it
 * (CometBFT's rules):
 *
 *   lower HRS than the last signed  -> DoubleSignError 'regression'
 *   same HRS, same sign bytes       -> the stored signature (re-signing after a crash is safe)
 *   same HRS, other sign bytes      -> DoubleSignError 'double_sign'
 *   higher HRS                      -> sign, save (durable), then return the signature
 *
 * Steps: 1 propose, 2 prevote, 3 precommit. Pure: storage is the `SignStateStore` port
 * (node/privval-file.ts keeps it in a file). One PrivValidator per key and store at a time: two
 * processes sharing a state file defeat the guard.
 */
import { addressOf, type Address } from '../chain/address.ts';
import { equalBytes } from '../chain/bytes.ts';
import { checkChainId } from '../chain/chain-id.ts';
import { decodeCanonical } from '../chain/codec.ts';
import { CodedError } from '../chain/errors.ts';
import { publicKeyOf, sign, SIGNATURE_LENGTH } from '../chain/keys.ts';
import { PROPOSAL_SIGN_DOMAIN, proposalSignBytes, type Proposal } from '../chain/proposal.ts';
import { verifySignature } from '../chain/signature.ts';
import { PRECOMMIT, PREVOTE, VOTE_SIGN_DOMAIN, voteSignBytes, type Vote, type VoteType } from '../chain/vote.ts';

export const STEP_PROPOSE = 1;
export const STEP_PREVOTE = 2;
export const STEP_PRECOMMIT = 3;
export type SignStep = typeof STEP_PROPOSE | typeof STEP_PREVOTE | typeof STEP_PRECOMMIT;

export interface LastSignState {
  height: number;
  round: number;
  step: SignStep;
  signBytes: Uint8Array;
  signature: Uint8Array;
}

export interface SignStateStore {
  /** The last saved state, or null if nothing was ever signed. Throws if the state is unreadable. */
  load(): LastSignState | null;
  /** Durable before it returns. */
  save(s: LastSignState): void;
}

export type DoubleSignErrorCode = 'double_sign' | 'regression';

/** A signing request that could contradict what this validator already signed. */
export class DoubleSignError extends CodedError<DoubleSignErrorCode> {}

/**
 * malformed: the stored state does not parse. wrong_key / wrong_chain: it was not signed by this
 * key, or not for this chain. store_failed: a save failed, so what is on disk is unknown.
 */
export type SignStateErrorCode = 'malformed' | 'wrong_key' | 'wrong_chain' | 'store_failed';

export class SignStateError extends CodedError<SignStateErrorCode> {}

const STEP_NAMES = ['', 'proposal', 'prevote', 'precommit'] as const;

/** Checks a state's fields (stores call it on what they load); SignStateError 'malformed' names the field. */
export function checkLastSignState(s: LastSignState, what: string): LastSignState {
  const bad = (field: string, want: string) => new SignStateError('malformed', `${what}: ${field} must be ${want}`);
  if (typeof s !== 'object' || s === null) throw bad('the state', 'an object');
  if (!Number.isSafeInteger(s.height) || s.height < 1) throw bad('height', 'a positive integer');
  if (!Number.isSafeInteger(s.round) || s.round < 0) throw bad('round', 'a non-negative integer');
  if (s.step !== STEP_PROPOSE && s.step !== STEP_PREVOTE && s.step !== STEP_PRECOMMIT) throw bad('step', '1 (propose), 2 (prevote) or 3 (precommit)');
  if (!(s.signBytes instanceof Uint8Array) || s.signBytes.length === 0) throw bad('signBytes', 'non-empty bytes');
  if (!(s.signature instanceof Uint8Array) || s.signature.length !== SIGNATURE_LENGTH) throw bad('signature', `${SIGNATURE_LENGTH} bytes`);
  return s;
}

export interface PrivValidatorOptions {
  chainId: string;
  secretKey: Uint8Array;
  store: SignStateStore;
}

export class PrivValidator {
  readonly chainId: string;
  readonly #secretKey: Uint8Array;
  readonly #publicKey: Uint8Array;
  readonly #address: Address;
  readonly #store: SignStateStore;
  #last: LastSignState | null;
  #failed: unknown = null;

  constructor(opts: PrivValidatorOptions) {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('PrivValidator: expected { chainId, secretKey, store }');
    this.chainId = checkChainId(opts.chainId);
    this.#publicKey = publicKeyOf(opts.secretKey);
    this.#secretKey = Uint8Array.from(opts.secretKey);
    this.#address = addressOf(this.#publicKey);
    if (typeof opts.store?.load !== 'function' || typeof opts.store.save !== 'function') throw new TypeError('PrivValidator: store must have load() and save()');
    this.#store = opts.store;
    const last = this.#store.load();
    this.#last = last === null ? null : this.#checkLoaded(checkLastSignState(last, 'loaded sign state'));
  }

  get address(): Address {
    return this.#address.slice();
  }

  get publicKey(): Uint8Array {
    return this.#publicKey.slice();
  }

  /** The last thing signed, or null; a copy. */
  get lastSigned(): LastSignState | null {
    const s = this.#last;
    return s && { ...s, signBytes: s.signBytes.slice(), signature: s.signature.slice() };
  }

  signVote(v: { type: VoteType; height: number; round: number; blockHash: Uint8Array | null }): Vote {
    if (typeof v !== 'object' || v === null) throw new TypeError('signVote: expected { type, height, round, blockHash }');
    if (v.type !== PREVOTE && v.type !== PRECOMMIT) throw new RangeError(`signVote: type must be ${PREVOTE} (prevote) or ${PRECOMMIT} (precommit), got ${String(v.type)}`);
    checkHeightRound(v, 'signVote');
    if (v.blockHash !== null && !isHash(v.blockHash)) throw new TypeError('signVote: blockHash must be 32 bytes or null (nil)');
    const signBytes = voteSignBytes(this.chainId, v);
    const signature = this.#sign(v.height, v.round, v.type === PREVOTE ? STEP_PREVOTE : STEP_PRECOMMIT, signBytes);
    return { type: v.type, height: v.height, round: v.round, blockHash: v.blockHash, validator: this.address, signature };
  }

  signProposal(p: { height: number; round: number; validRound: number; blockHash: Uint8Array }): Proposal {
    if (typeof p !== 'object' || p === null) throw new TypeError('signProposal: expected { height, round, validRound, blockHash }');
    checkHeightRound(p, 'signProposal');
    if (!isHash(p.blockHash)) throw new TypeError('signProposal: blockHash must be 32 bytes');
    const signBytes = proposalSignBytes(this.chainId, p);
    const signature = this.#sign(p.height, p.round, STEP_PROPOSE, signBytes);
    return { height: p.height, round: p.round, validRound: p.validRound, blockHash: p.blockHash, signature };
  }

  #sign(height: number, round: number, step: SignStep, signBytes: Uint8Array): Uint8Array {
    if (this.#failed !== null) {
      throw new SignStateError('store_failed', 'refusing to sign: an earlier save of the sign state failed, so what is on disk is unknown; restart the validator once storage is healthy');
    }
    const last = this.#last;
    if (last !== null) {
      const order = compareHrs(height, round, step, last);
      const asked = `${STEP_NAMES[step]} at height ${height} round ${round}`;
      const done = `${STEP_NAMES[last.step]} at height ${last.height} round ${last.round}`;
      if (order < 0) {
        throw new DoubleSignError('regression', `refusing to sign a ${asked}: this validator already signed a ${done}, which comes later `
          + '(if this node was restored from an old backup, its chain data is behind its sign state; let it catch up)');
      }
      if (order === 0) {
        if (equalBytes(signBytes, last.signBytes)) return last.signature.slice();
        throw new DoubleSignError('double_sign', `refusing to sign a ${asked}: this validator already signed a different ${done}; signing both would be a double sign`);
      }
    }
    const signature = sign(this.#secretKey, signBytes);
    const next: LastSignState = { height, round, step, signBytes: signBytes.slice(), signature: signature.slice() };
    try {
      this.#store.save(next);
    } catch (err) {
      this.#failed = err;
      const e = new SignStateError('store_failed', `could not save the sign state (${(err as Error)?.message ?? String(err)}); the signature was not released and signing is stopped until restart`);
      e.cause = err;
      throw e;
    }
    this.#last = next;
    return signature;
  }

  /** A loaded state must be ours and this chain's, or the guard would compare against a stranger's history. */
  #checkLoaded(s: LastSignState): LastSignState {
    if (!verifySignature(this.#publicKey, s.signBytes, s.signature)) {
      throw new SignStateError('wrong_key', `the stored sign state (height ${s.height}) is not signed by this validator's key: it belongs to another key or is damaged; `
        + 'use the state file that goes with this key, or restore it from a backup');
    }
    const described = describeSignBytes(s.signBytes);
    if (described === null || described.height !== s.height || described.round !== s.round || described.step !== s.step) {
      throw new SignStateError('malformed', `the stored sign state says height ${s.height} round ${s.round} step ${s.step}, but its signBytes say otherwise; restore it from a backup`);
    }
    if (described.chainId !== this.chainId) {
      throw new SignStateError('wrong_chain', `the stored sign state is for chain ${JSON.stringify(described.chainId)}, not ${JSON.stringify(this.chainId)}; `
        + 'use a state file for this chain (a validator new to this chain starts without one)');
    }
    return { ...s, signBytes: s.signBytes.slice(), signature: s.signature.slice() };
  }
}

function compareHrs(height: number, round: number, step: SignStep, last: LastSignState): number {
  return height - last.height || round - last.round || step - last.step;
}

function checkHeightRound(x: { height: number; round: number }, what: string): void {
  if (!Number.isSafeInteger(x.height) || x.height < 1) throw new RangeError(`${what}: height must be a positive integer, got ${String(x.height)}`);
  if (!Number.isSafeInteger(x.round) || x.round < 0) throw new RangeError(`${what}: round must be a non-negative integer, got ${String(x.round)}`);
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === 32;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && equalBytes(bytes.subarray(0, prefix.length), prefix);
}

/** The chain, height, round and step a vote's or proposal's sign bytes commit to; null if neither. */
function describeSignBytes(signBytes: Uint8Array): { chainId: string; height: number; round: number; step: SignStep } | null {
  try {
    if (startsWith(signBytes, VOTE_SIGN_DOMAIN)) {
      const v = decodeCanonical(signBytes.subarray(VOTE_SIGN_DOMAIN.length), 'vote sign bytes', 256);
      if (!Array.isArray(v) || v.length !== 5) return null;
      const [chainId, type, height, round] = v;
      if (typeof chainId !== 'string' || typeof height !== 'number' || typeof round !== 'number') return null;
      if (type !== PREVOTE && type !== PRECOMMIT) return null;
      return { chainId, height, round, step: type === PREVOTE ? STEP_PREVOTE : STEP_PRECOMMIT };
    }
    if (startsWith(signBytes, PROPOSAL_SIGN_DOMAIN)) {
      const p = decodeCanonical(signBytes.subarray(PROPOSAL_SIGN_DOMAIN.length), 'proposal sign bytes', 256);
      if (!Array.isArray(p) || p.length !== 5) return null;
      const [chainId, height, round] = p;
      if (typeof chainId !== 'string' || typeof height !== 'number' || typeof round !== 'number') return null;
      return { chainId, height, round, step: STEP_PROPOSE };
    }
  } catch {
    return null; // not canonical CBOR: not bytes we signed
  }
  return null;
}
