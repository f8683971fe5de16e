/**
 * The light-client check behind `hallmark model verify`: believe a model record only when it is
 * proven against a state root that +2/3 of the validators' power signed. The RPC server that
 * answers is not trusted for anything; each step below refuses what a lying server could change:
 *
 * 1. The trust root: the validator set of the genesis file the user holds, or a block the user
 *    trusts by height and hash (its header must hash to that, and the validator set the server
 *    names must hash to the header's validatorsHash).
 * 2. The commit: decoded from bytes, it must be for the header it comes with (height and hash),
 *    signed by distinct members of the trusted set holding more than 2/3 of its power, every
 *    signature valid (consensus/verify.ts verifyCommit, the rule the validators themselves use).
 * 3. The header: of the trusted chain, carrying the trusted validatorsHash (validator sets do not
 *    change under protocol 1, so the trusted set signs every height; a header naming another set
 *    cannot be proven here and is refused as such), at the height after the proven state.
 * 4. Freshness: the signed header must be recent (default 10 minutes by the local clock), or a
 *    server could replay an old, validly signed state from before a revocation.
 * 5. The values: the record and manifest at the keys this client computes from the fingerprint,
 *    each with a Merkle proof against the header's stateRoot (absence is proven the same way).
 */
import { blockHash, decodeHeader, type Header } from '../chain/block.ts';
import { equalBytes, fromHex, toHex } from '../chain/bytes.ts';
import { CodedError } from '../chain/errors.ts';
import { validatorsHash } from '../chain/validators-hash.ts';
import { decodeCommit } from '../chain/vote.ts';
import { CommitError, verifyCommit } from '../consensus/verify.ts';
import { ValidatorSet, type Validator } from '../consensus/validators.ts';
import { decodeStateProof, verifyStateProof } from '../state/proof.ts';
import { decodeModelRecord, decodeStoredManifest, manifestKey, recordKey, type ModelRecord } from './record.ts';

export type ProofErrorCode =
  | 'bad_commit' | 'bad_header' | 'wrong_chain' | 'validators_changed' | 'bad_proof' | 'bad_record' | 'untrusted_root' | 'stale';

/** How old a signed header may be before its state is refused as possibly stale. */
export const DEFAULT_MAX_AGE_MS = 10 * 60_000;

export interface ProveOptions {
  /** Default DEFAULT_MAX_AGE_MS. */
  maxAgeMs?: number;
  /** The local clock, ms since the epoch (default Date.now). */
  now?: () => number;
}

/** Why a record could not be proven; the CLI reports it as "could not prove". */
export class ProofError extends CodedError<ProofErrorCode> {}

/** What the user trusts: a genesis file's chain and validators, or one block by height and hash. */
export type TrustRoot =
  | { kind: 'genesis'; chainId: string; validators: readonly Validator[] }
  | { kind: 'block'; height: number; hash: Uint8Array };

/** model_getProof's answer (rpc/model-json.ts ModelProofJson), as the server sent it. */
export interface ModelProofBundle {
  height: number;
  root: string;
  record: { key: string; value: string | null; proof: string };
  manifest: { key: string; value: string | null; proof: string };
  header: string;
  commit: string;
}

/** What the light client asks a server for. Nothing it returns is believed until checked. */
export interface LightClientSource {
  modelProof(fingerprint: Uint8Array): Promise<ModelProofBundle>;
  /** The header of a block (for a trusted block). */
  header(height: number): Promise<Header>;
  /** The validator set the server says decides now (checked against a trusted header). */
  validators(): Promise<Validator[]>;
}

export interface ProvenModel {
  /** The state version proven (the header is of height + 1). */
  height: number;
  chainId: string;
  /** The record, or undefined when its absence was proven. */
  record: ModelRecord | undefined;
  manifest: { manifest: Uint8Array; tensors: Uint8Array | null } | undefined;
  /** Hash of the signed header the proof rests on. */
  headerHash: Uint8Array;
}

interface Trusted {
  chainId: string;
  set: ValidatorSet;
  setHash: Uint8Array;
}

async function trusted(source: LightClientSource, trust: TrustRoot): Promise<Trusted> {
  if (trust.kind === 'genesis') {
    return { chainId: trust.chainId, set: new ValidatorSet(trust.validators), setHash: validatorsHash(trust.validators) };
  }
  const header = await source.header(trust.height);
  if (header.height !== trust.height || !equalBytes(blockHash(header), trust.hash)) {
    throw new ProofError('untrusted_root', `the header the server gave for height ${trust.height} hashes to ${toHex(blockHash(header))}, not the trusted ${toHex(trust.hash)}`);
  }
  const validators = await source.validators();
  const setHash = validatorsHash(validators);
  if (!equalBytes(setHash, header.validatorsHash)) {
    throw new ProofError('validators_changed', `the validator set the server gave hashes to ${toHex(setHash)}, not the trusted header's ${toHex(header.validatorsHash)}`);
  }
  return { chainId: header.chainId, set: new ValidatorSet(validators), setHash };
}

function decoded<T>(what: string, code: ProofErrorCode, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new ProofError(code, `the ${what} the server sent does not decode: ${(err as Error).message}`);
  }
}

/** Fetches a model's record and manifest and proves them as above; throws ProofError otherwise. */
export async function proveModel(source: LightClientSource, fingerprint: Uint8Array, trust: TrustRoot, opts: ProveOptions = {}): Promise<ProvenModel> {
  const t = await trusted(source, trust);
  const bundle = await source.modelProof(fingerprint);
  const header = decoded('header', 'bad_header', () => decodeHeader(fromHex(bundle.header)));
  const commit = decoded('commit', 'bad_commit', () => decodeCommit(fromHex(bundle.commit)));
  if (header.chainId !== t.chainId) throw new ProofError('wrong_chain', `the header is of chain ${header.chainId}, not the trusted ${t.chainId}`);
  if (!equalBytes(header.validatorsHash, t.setHash)) {
    throw new ProofError('validators_changed', `the header at height ${header.height} names validator set ${toHex(header.validatorsHash)}, not the trusted ${toHex(t.setHash)}`);
  }
  if (header.height !== bundle.height + 1) throw new ProofError('bad_header', `the header is of height ${header.height}, but the state proven is after block ${bundle.height}`);
  if (trust.kind === 'block' && header.height < trust.height) {
    throw new ProofError('bad_header', `the header is of height ${header.height}, before the trusted height ${trust.height}`);
  }
  const hash = blockHash(header);
  try {
    verifyCommit(t.chainId, t.set, commit, { height: header.height, blockHash: hash });
  } catch (err) {
    if (err instanceof CommitError) throw new ProofError('bad_commit', `the commit does not sign the header: ${err.message}`);
    throw err;
  }
  const age = (opts.now ?? Date.now)() - header.time;
  const maxAge = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  if (age > maxAge) {
    throw new ProofError('stale', `the newest signed header the server sent (height ${header.height}) is ${Math.round(age / 1000)} s old, more than the ${Math.round(maxAge / 1000)} s allowed: a stale state could hide a revocation`);
  }
  const root = header.stateRoot;
  const proven = (what: string, key: Uint8Array, got: ModelProofBundle['record']): Uint8Array | undefined => {
    const value = got.value === null ? undefined : decoded(what, 'bad_proof', () => fromHex(got.value!));
    const proof = decoded(`${what} proof`, 'bad_proof', () => decodeStateProof(fromHex(got.proof)));
    if (!verifyStateProof(root, key, value, proof)) {
      throw new ProofError('bad_proof', `the ${what} ${value === undefined ? 'absence' : 'value'} is not proven by the signed state root ${toHex(root)}`);
    }
    return value;
  };
  const recordBytes = proven('record', recordKey(fingerprint), bundle.record);
  const manifestBytes = proven('manifest', manifestKey(fingerprint), bundle.manifest);
  const record = recordBytes && decoded('record', 'bad_record', () => decodeModelRecord(recordBytes));
  if (record !== undefined && !equalBytes(record.fingerprint, fingerprint)) throw new ProofError('bad_record', 'the proven record is of another fingerprint');
  if ((record === undefined) !== (manifestBytes === undefined)) throw new ProofError('bad_record', 'a record and its manifest are proven, or neither');
  const manifest = manifestBytes && decoded('manifest', 'bad_record', () => decodeStoredManifest(manifestBytes));
  return { height: bundle.height, chainId: t.chainId, record, manifest, headerHash: hash };
}
