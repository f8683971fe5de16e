/**
 * The genesis file (genesis.json): its JSON form, validation, and the typed `Genesis` (genesis.ts)
 * built from it and written back to it.
 *
 * Validation reports every problem at once, each with its JSON path (`validators[1].power: ...`),
 * and rejects unknown fields: a typo in a genesis file must not be silently ignored. Amounts and
 * powers are decimal strings so no JSON reader rounds them; the time is RFC 3339 UTC with at most
 * millisecond precision, so `parseGenesis(formatGenesis(g))` gives back exactly `g`.
 *
 * Shape and per-field rules are a zod schema; rules across fields (duplicates, totals) run on the
 * raw document as well, over whichever items are individually well formed, so one bad field does
 * not hide the others.
 */
import { z } from 'zod';
import { addressOf, formatAddress, parseAddress } from '../chain/address.ts';
import { MAX_BLOCK_BYTES, MAX_BLOCK_TXS } from '../chain/block.ts';
import { minBlockBytes } from '../chain/block-rules.ts';
import { fromHex, toHex } from '../chain/bytes.ts';
import { checkChainId } from '../chain/chain-id.ts';
import { U64_MAX } from '../chain/codec.ts';
import { CodedError } from '../chain/errors.ts';
import { duplicateKeys } from '../chain/json-keys.ts';
import { isSupportedProtocol, SUPPORTED_PROTOCOL_VERSIONS } from '../chain/protocol.ts';
import { publicKeyProblem as accountKeyProblem } from '../chain/public-key.ts';
import { formatPath, schemaProblems } from '../chain/schema-problems.ts';
import type { Genesis } from './genesis.ts';

/** The block header's validatorsHash; it lives in chain/ (consensus and the executor use it too). */
export { validatorsHash } from '../chain/validators-hash.ts';

/**
 * The cap on total voting power: the consensus validator set's (CometBFT's MaxInt64 / 8, kept a
 * safe integer), so every genesis accepted here gives a valid validator set.
 */
export const MAX_TOTAL_POWER = Math.floor(Number.MAX_SAFE_INTEGER / 8);
export const MAX_VALIDATOR_NAME_LENGTH = 64;
/** Upper bound for each consensus timeout: ten minutes. Longer is a mistake, not a choice. */
export const MAX_TIMEOUT_MS = 600_000;

/**
 * Gas cap bounds. The floor covers the intrinsic gas of the largest transaction the codec takes
 * that is not a deploy (a call with 1 MiB of arguments), so every such transaction fits some block;
 * a deploy pays per byte of code, so the largest modules need a larger max_gas (the devnet's takes
 * any module the VM admits). test/genesis-schema.test.ts checks the floor against the executor's
 * table, which genesis/ cannot import. The ceiling keeps sums of gas limits exact in doubles.
 */
export const MIN_MAX_GAS = 20_000_000;
export const MAX_MAX_GAS = 2 ** 52;

export class GenesisError extends CodedError<'genesis_invalid'> {
  /** One line per problem, each `path: what is wrong`. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    const head = problems.length === 1 ? 'genesis is invalid:' : `genesis is invalid (${problems.length} problems):`;
    super('genesis_invalid', `${head}\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}

// ---- field rules ---------------------------------------------------------------------------------

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const PUBLIC_KEY_HEX = /^[0-9a-fA-F]{64}$/;
const RFC3339_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?Z$/;

/** Returns the problem with a decimal u64 string, or null. */
function decimalProblem(s: string): string | null {
  if (!DECIMAL.test(s)) return `must be a decimal integer in a string, without sign or leading zeros (got ${JSON.stringify(s)})`;
  if (BigInt(s) > U64_MAX) return 'exceeds 2^64-1';
  return null;
}

function powerProblem(s: string): string | null {
  const p = decimalProblem(s);
  if (p) return p;
  const v = BigInt(s);
  if (v === 0n) return 'must be greater than 0';
  if (v > BigInt(MAX_TOTAL_POWER)) return `exceeds the maximum total power of ${MAX_TOTAL_POWER}`;
  return null;
}

/** Milliseconds since the epoch for an RFC 3339 UTC time, or a problem description. */
function parseTime(s: string): number | string {
  const m = RFC3339_UTC.exec(s);
  if (!m) return `must be an RFC 3339 UTC time such as "2026-11-23T00:00:00.000Z" (got ${JSON.stringify(s)})`;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Number((m[7] ?? '').padEnd(3, '0'));
  const t = Date.UTC(y, mo - 1, d, h, mi, se, ms);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || back.getUTCHours() !== h
    || back.getUTCMinutes() !== mi || back.getUTCSeconds() !== se) {
    return `not a real date and time: ${JSON.stringify(s)}`;
  }
  if (t < 0) return 'must not be before 1970-01-01T00:00:00Z';
  return t;
}

/** A validator key obeys the account key rule (chain/public-key.ts): canonical, not small order. */
function publicKeyProblem(s: string): string | null {
  if (!PUBLIC_KEY_HEX.test(s)) return `must be 64 hex characters (a 32-byte Ed25519 public key), got ${s.length} characters`;
  const problem = accountKeyProblem(fromHex(s));
  return problem === null ? null : `not a usable Ed25519 public key: ${problem}`;
}

function accountAddressProblem(s: string): string | null {
  try {
    parseAddress(s);
    return null;
  } catch (err) {
    // AddressError messages start with `address "…": `; the path already says which field.
    return (err as Error).message.replace(/^address "(?:[^"\\]|\\.)*": /, '');
  }
}

function check<T>(problem: (v: T) => string | null) {
  return (v: T, ctx: z.RefinementCtx<T>) => {
    const p = problem(v);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  };
}

const decimalU64 = z.string().superRefine(check(decimalProblem));
const positiveInt = (max: number) => z.int().min(1, 'must be at least 1').max(max, `must be at most ${max}`);
const timeout = (min: 0 | 1) => z.int().min(min, `must be at least ${min}`).max(MAX_TIMEOUT_MS, `must be at most ${MAX_TIMEOUT_MS} (10 minutes)`);

const validatorSchema = z.strictObject({
  name: z.string().superRefine(check((s: string) =>
    s.length === 0 || s.length > MAX_VALIDATOR_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(s)
      ? `must be 1-${MAX_VALIDATOR_NAME_LENGTH} characters without control characters` : null)),
  public_key: z.string().superRefine(check(publicKeyProblem)),
  power: z.string().superRefine(check(powerProblem)),
});

const accountSchema = z.strictObject({
  address: z.string().superRefine(check(accountAddressProblem)),
  balance: decimalU64,
});

const genesisSchema = z.strictObject({
  protocol_version: z.int().superRefine(check((v: number) => (isSupportedProtocol(v) ? null
    : `protocol version ${v} is not one this Hallmark runs (${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`))),
  chain_id: z.string().superRefine(check((s: string) => {
    try {
      checkChainId(s);
      return null;
    } catch (err) {
      return (err as Error).message.replace(/^chain id "(?:[^"\\]|\\.)*": /, '');
    }
  })),
  genesis_time: z.string().superRefine(check((s: string) => {
    const t = parseTime(s);
    return typeof t === 'string' ? t : null;
  })),
  consensus_params: z.strictObject({
    block: z.strictObject({
      max_bytes: positiveInt(MAX_BLOCK_BYTES),
      max_txs: positiveInt(MAX_BLOCK_TXS),
      max_gas: z.int().min(MIN_MAX_GAS, `must be at least ${MIN_MAX_GAS} (the intrinsic gas of the largest transaction)`).max(MAX_MAX_GAS, `must be at most 2^52 (${MAX_MAX_GAS})`),
    }),
    fees: z.strictObject({
      min_gas_price: decimalU64,
    }),
    synchrony: z.strictObject({
      precision_ms: timeout(0),
      message_delay_ms: timeout(1),
    }),
    evidence: z.strictObject({
      max_age_heights: positiveInt(Number.MAX_SAFE_INTEGER),
    }),
    timeouts: z.strictObject({
      propose_ms: timeout(1),
      propose_delta_ms: timeout(0),
      prevote_ms: timeout(1),
      prevote_delta_ms: timeout(0),
      precommit_ms: timeout(1),
      precommit_delta_ms: timeout(0),
      commit_ms: timeout(0),
    }),
  }),
  validators: z.array(validatorSchema).min(1, 'must list at least one validator'),
  accounts: z.array(accountSchema),
});

export type GenesisDocument = z.output<typeof genesisSchema>;

// ---- cross-field rules ---------------------------------------------------------------------------

interface Problem {
  path: readonly PropertyKey[];
  message: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Duplicates and totals, over the items whose own fields are well formed. */
function crossFieldProblems(doc: unknown): Problem[] {
  if (!isRecord(doc)) return [];
  const out: Problem[] = [];
  const block = isRecord(doc.consensus_params) && isRecord(doc.consensus_params.block) ? doc.consensus_params.block : undefined;
  const maxBytes = block?.max_bytes;
  if (Array.isArray(doc.validators) && doc.validators.length > 0 && Number.isSafeInteger(maxBytes) && (maxBytes as number) >= 1) {
    const least = minBlockBytes(doc.validators.length);
    if ((maxBytes as number) < least) {
      out.push({ path: ['consensus_params', 'block', 'max_bytes'], message: `must be at least ${least} for ${doc.validators.length} validator(s): the largest transaction (1 MiB) beside the largest header, commit and evidence` });
    }
  }
  if (Array.isArray(doc.validators)) {
    const keys = new Map<string, number>();
    const names = new Map<string, number>();
    let total = 0n;
    doc.validators.forEach((v: unknown, i) => {
      if (!isRecord(v)) return;
      if (typeof v.public_key === 'string' && PUBLIC_KEY_HEX.test(v.public_key)) {
        const k = v.public_key.toLowerCase();
        const first = keys.get(k);
        if (first === undefined) keys.set(k, i);
        else out.push({ path: ['validators', i], message: `duplicate public key (same as validators[${first}])` });
      }
      if (typeof v.name === 'string') {
        const first = names.get(v.name);
        if (first === undefined) names.set(v.name, i);
        else out.push({ path: ['validators', i, 'name'], message: `duplicate name (same as validators[${first}])` });
      }
      if (typeof v.power === 'string' && powerProblem(v.power) === null) total += BigInt(v.power);
    });
    if (total > BigInt(MAX_TOTAL_POWER)) {
      out.push({ path: ['validators'], message: `total power ${total} exceeds the maximum of ${MAX_TOTAL_POWER}` });
    }
  }
  if (Array.isArray(doc.accounts)) {
    const seen = new Map<string, number>();
    let supply = 0n;
    doc.accounts.forEach((a: unknown, i) => {
      if (!isRecord(a)) return;
      if (typeof a.address === 'string' && accountAddressProblem(a.address) === null) {
        const k = toHex(parseAddress(a.address));
        const first = seen.get(k);
        if (first === undefined) seen.set(k, i);
        else out.push({ path: ['accounts', i, 'address'], message: `duplicate address (same as accounts[${first}])` });
      }
      if (typeof a.balance === 'string' && decimalProblem(a.balance) === null) supply += BigInt(a.balance);
    });
    if (supply > U64_MAX) out.push({ path: ['accounts'], message: `total supply ${supply} exceeds 2^64-1` });
  }
  return out;
}

// ---- parse -----------------------------------------------------------------------------------------

const SECTIONS = ['protocol_version', 'chain_id', 'genesis_time', 'consensus_params', 'validators', 'accounts'];

/** Sorts problems by section and then list item (stable otherwise), so a reader meets them in file order. */
function inDocumentOrder(problems: Problem[]): Problem[] {
  const rank = (p: Problem): [number, number] => {
    const section = SECTIONS.indexOf(String(p.path[0] ?? ''));
    const item = typeof p.path[1] === 'number' ? p.path[1] : Number.MAX_SAFE_INTEGER;
    return [section === -1 ? (p.path.length === 0 ? -1 : SECTIONS.length) : section, item];
  };
  return problems
    .map((p, i) => ({ p, i, r: rank(p) }))
    .sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1] || a.i - b.i)
    .map((x) => x.p);
}

/** Reads JSON text, or an already-parsed JSON value, into a checked `Genesis`; throws GenesisError. */
export function parseGenesis(json: string | unknown): Genesis {
  let doc: unknown = json;
  if (typeof json === 'string') {
    // A byte-order mark (some editors add one) is not JSON, but it is not a mistake either.
    const text = json.startsWith('\uFEFF') ? json.slice(1) : json;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new GenesisError([`(document): not valid JSON: ${(err as Error).message}`]);
    }
    const repeated = duplicateKeys(text);
    if (repeated.length > 0) throw new GenesisError(repeated.map((p) => `${formatPath(p)}: appears twice in its object (only one may be given)`));
  }
  const result = genesisSchema.safeParse(doc, { reportInput: true });
  const problems = inDocumentOrder([...(result.success ? [] : schemaProblems(genesisSchema, result.error.issues, 'json')), ...crossFieldProblems(doc)]);
  if (!result.success || problems.length > 0) {
    throw new GenesisError(problems.map((p) => `${formatPath(p.path)}: ${p.message}`));
  }
  return fromDocument(result.data);
}

function fromDocument(d: GenesisDocument): Genesis {
  const c = d.consensus_params;
  const t = c.timeouts;
  return {
    protocolVersion: d.protocol_version,
    chainId: d.chain_id,
    time: parseTime(d.genesis_time) as number,
    consensusParams: {
      block: { maxBytes: c.block.max_bytes, maxTxs: c.block.max_txs, maxGas: c.block.max_gas },
      fees: { minGasPrice: BigInt(c.fees.min_gas_price) },
      synchrony: { precisionMs: c.synchrony.precision_ms, messageDelayMs: c.synchrony.message_delay_ms },
      evidence: { maxAgeHeights: c.evidence.max_age_heights },
      timeouts: {
        proposeMs: t.propose_ms, proposeDeltaMs: t.propose_delta_ms, prevoteMs: t.prevote_ms, prevoteDeltaMs: t.prevote_delta_ms,
        precommitMs: t.precommit_ms, precommitDeltaMs: t.precommit_delta_ms, commitMs: t.commit_ms,
      },
    },
    validators: d.validators.map((v) => {
      const publicKey = fromHex(v.public_key);
      return { name: v.name, publicKey, address: addressOf(publicKey), power: Number(v.power) };
    }),
    accounts: d.accounts.map((a) => ({ address: parseAddress(a.address), balance: BigInt(a.balance) })),
  };
}

// ---- format --------------------------------------------------------------------------------------

/** The document for `g`, in the file's field order. */
export function toDocument(g: Genesis): GenesisDocument {
  const { block, fees, synchrony, evidence, timeouts: t } = g.consensusParams;
  return {
    protocol_version: g.protocolVersion,
    chain_id: g.chainId,
    genesis_time: new Date(g.time).toISOString(),
    consensus_params: {
      block: { max_bytes: block.maxBytes, max_txs: block.maxTxs, max_gas: block.maxGas },
      fees: { min_gas_price: fees.minGasPrice.toString() },
      synchrony: { precision_ms: synchrony.precisionMs, message_delay_ms: synchrony.messageDelayMs },
      evidence: { max_age_heights: evidence.maxAgeHeights },
      timeouts: {
        propose_ms: t.proposeMs, propose_delta_ms: t.proposeDeltaMs, prevote_ms: t.prevoteMs, prevote_delta_ms: t.prevoteDeltaMs,
        precommit_ms: t.precommitMs, precommit_delta_ms: t.precommitDeltaMs, commit_ms: t.commitMs,
      },
    },
    validators: g.validators.map((v) => ({ name: v.name, public_key: toHex(v.publicKey), power: String(v.power) })),
    accounts: g.accounts.map((a) => ({ address: formatAddress(a.address), balance: a.balance.toString() })),
  };
}

/** genesis.json text: 2-space JSON in a fixed field order, with a final newline. */
export function formatGenesis(g: Genesis): string {
  return `${JSON.stringify(toDocument(g), null, 2)}\n`;
}
