/**
 * The JSON-RPC method table. Each method has a name, a summary, a zod schema for its (named)
 * params and one for its result, and a handler that reads and writes only through RpcNode. The
 * server (server.ts) validates params with the schema before calling the handler; the OpenRPC
 * document (openrpc.ts) is generated from the same schemas, so the two cannot drift apart.
 *
 * Errors a handler means to send are RpcError values with a code from RPC_ERRORS; anything else
 * it throws is an internal error (logged, never shown to the client).
 */
import { z } from 'zod';
import { formatAddress, parseAddress, type Address } from '../chain/address.ts';
import { fromHex, toHex } from '../chain/bytes.ts';
import { CodecError } from '../chain/codec.ts';
import { decodeSignedTransaction, MAX_METHOD_LENGTH, MAX_TX_BYTES } from '../chain/tx.ts';
import { StateOverlay } from '../state/overlay.ts';
import { encodeStateProof, MAX_KEY_BYTES, StateError } from '../state/tree.ts';
import { accountKey, accountOf } from '../execution/account.ts';
import { MempoolError } from '../mempool/mempool.ts';
import type { RpcNode } from './node-api.ts';
import {
  AddressOut, AmountOut, BlockJson, blockJson, CommitJson, commitJson, EvidenceJson, evidenceJson, Hash32, hex, hexOut,
  ReceiptJson, receiptJson, rfc3339, TimeOut, TxJson, txJson, Uint,
} from './json.ts';
import { openRpcDocument, OpenRpcDocumentSchema } from './openrpc.ts';

// ---- errors ------------------------------------------------------------------------------------

/** Every error code the server sends, with its stable name and what it means. */
export const RPC_ERRORS = {
  parse_error: { code: -32700, message: 'Parse error: the body is not valid JSON (UTF-8)' },
  invalid_request: { code: -32600, message: 'Invalid request: not a JSON-RPC 2.0 request object, an empty batch, a batch over the limit, or a wrong Content-Type' },
  method_not_found: { code: -32601, message: 'Method not found' },
  invalid_params: { code: -32602, message: 'Invalid params: data.issues lists each field and what is wrong with it' },
  internal_error: { code: -32603, message: 'Internal error: the server logged the details' },
  request_too_large: { code: -32001, message: 'Request body larger than the server accepts (HTTP 413)' },
  server_busy: { code: -32003, message: 'Server busy: too many requests in flight, retry later (HTTP 503)' },
  not_found: { code: -32004, message: 'Not found: no such block, commit, transaction or state version' },
  wait_timeout: { code: -32005, message: 'The transaction was admitted but not committed within timeout_ms; data.hash names it' },
  request_timeout: { code: -32006, message: 'The call did not finish within the server timeout' },
  tx_refused: { code: -32010, message: 'The mempool refused the transaction; data.reason is its stable code' },
} as const;
export type RpcErrorName = keyof typeof RPC_ERRORS;

export interface RpcIssue {
  /** Where in params, dotted: `height`, `tx`, `params` for the object itself. */
  path: string;
  message: string;
}

export class RpcError extends Error {
  readonly code: number;
  readonly data: unknown;

  constructor(name: RpcErrorName, message: string, data?: unknown) {
    super(message);
    this.name = 'RpcError';
    this.code = RPC_ERRORS[name].code;
    this.data = data;
  }

  static invalidParams(issues: RpcIssue[]): RpcError {
    const first = issues[0];
    const summary = first === undefined ? 'invalid params' : `invalid params: ${first.path}: ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`;
    return new RpcError('invalid_params', summary, { issues });
  }

  static notFound(message: string, data?: unknown): RpcError {
    return new RpcError('not_found', message, data);
  }
}

// ---- the method shape --------------------------------------------------------------------------

export interface RpcLog {
  warn(msg: string, fields?: object): void;
}

/** What the server gives each call besides its params. */
export interface RpcContext {
  /** The server's per-call timeout: the longest a handler may wait. */
  readonly timeoutMs: number;
  /** The server's method table (rpc.discover describes it). */
  readonly methods: readonly RpcMethod[];
  readonly log: RpcLog | undefined;
}

/** Params are named: every params schema is an object schema. */
type ParamsSchema = z.ZodType<unknown, Record<string, unknown>>;

export interface RpcMethod<P extends ParamsSchema = ParamsSchema, R extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly summary: string;
  readonly description?: string;
  readonly params: P;
  readonly result: R;
  /** Application errors this method may return, besides the protocol ones every method can. */
  readonly errors: readonly RpcErrorName[];
  handler(node: RpcNode, params: z.output<P>, ctx: RpcContext): Promise<z.input<R>>;
}

/** Keeps the handler typed against its own schemas, then stores it in the untyped table. */
function method<P extends ParamsSchema, R extends z.ZodType>(m: RpcMethod<P, R>): RpcMethod {
  return m as unknown as RpcMethod;
}

// ---- param pieces ------------------------------------------------------------------------------

const HEX_CHARS = '[0-9a-fA-F]';

/** Hex in params: upper or lower case, `0x` optional. Parsed to bytes. */
function hexIn(what: string, size: { bytes: number } | { maxBytes: number }) {
  const exact = 'bytes' in size;
  const pattern = exact ? `^(?:0x)?${HEX_CHARS}{${2 * size.bytes}}$` : `^(?:0x)?(?:${HEX_CHARS}{2})*$`;
  const max = exact ? 2 + 2 * size.bytes : 2 + 2 * size.maxBytes;
  const tooLong = exact ? `expected ${size.bytes} bytes as hex (${2 * size.bytes} hex digits)` : `longer than ${size.maxBytes} bytes`;
  return z.string()
    .max(max, tooLong)
    .regex(new RegExp(pattern), exact ? `expected ${size.bytes} bytes as hex (${2 * size.bytes} hex digits)` : 'expected hex: pairs of digits 0-9a-f')
    .transform((s) => fromHex(s))
    .describe(exact ? `${what}: ${size.bytes} bytes as hex` : `${what}: hex, at most ${size.maxBytes} bytes`);
}

const AddressIn = z.string().max(100, 'too long for an address').transform((s, ctx): Address => {
  try {
    return parseAddress(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
}).describe('address: bech32m, hm1…');

const HeightIn = Uint.describe('block height (a non-negative safe integer)');
const NoParams = z.strictObject({});

// ---- helpers -----------------------------------------------------------------------------------

function latestHeight(node: RpcNode): number {
  const head = node.executor.head;
  if (head === undefined) throw new Error('the node has no chain yet (genesis not applied)');
  return head.height;
}

/** A height to read committed data at: the given one (checked against the head) or the latest. */
function resolveHeight(node: RpcNode, height: number | undefined, what: string): number {
  const latest = latestHeight(node);
  if (height !== undefined && height > latest) throw RpcError.notFound(`no ${what} at height ${height}: the latest height is ${latest}`, { height, latest_height: latest });
  return height ?? latest;
}

/** State reads of a pruned or unknown version are "not found", not internal errors. */
async function readState<T>(fn: () => Promise<T>, height: number): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StateError && (err.code === 'version_pruned' || err.code === 'version_unknown')) {
      throw RpcError.notFound(`state at height ${height} is not available: ${err.message}`, { height, reason: err.code });
    }
    if (err instanceof StateError && err.code === 'key_invalid') throw RpcError.invalidParams([{ path: 'key', message: err.message }]);
    throw err;
  }
}

function refused(err: MempoolError): RpcError {
  return new RpcError('tx_refused', `transaction refused: ${err.message}`, { reason: err.code });
}

export const DEFAULT_WAIT_MS = 10_000;

// ---- the methods -------------------------------------------------------------------------------

const chainStatus = method({
  name: 'chain_status',
  summary: 'Chain id, this node, and the latest committed block.',
  params: NoParams,
  result: z.object({
    chain_id: z.string(),
    node_id: z.string().describe("the node's libp2p peer id (12D3KooW...)"),
    validator_address: AddressOut.nullable().describe('this node as a validator, or null if it does not validate'),
    latest_height: Uint.describe('0 before the first block'),
    latest_block_hash: Hash32.describe('all zeros before the first block'),
    latest_block_time: TimeOut.describe('genesis time before the first block'),
    latest_state_root: Hash32.describe('state root after the latest block'),
    catching_up: z.boolean(),
  }),
  errors: [],
  async handler(node) {
    const head = node.executor.head;
    if (head === undefined) throw new Error('the node has no chain yet (genesis not applied)');
    return {
      chain_id: node.chainId,
      node_id: node.nodeId,
      validator_address: node.validatorAddress === null ? null : formatAddress(node.validatorAddress),
      latest_height: head.height,
      latest_block_hash: hex(head.blockHash),
      latest_block_time: rfc3339(head.time),
      latest_state_root: hex(head.stateRoot),
      catching_up: node.catchingUp(),
    };
  },
});

const chainGetParams = method({
  name: 'chain_getParams',
  summary: "The chain's consensus rules (genesis protocol_version and consensus_params) and what this node admits.",
  params: NoParams,
  result: z.object({
    protocol_version: Uint,
    max_bytes: Uint.describe('most bytes of an encoded block'),
    max_txs: Uint.describe('most transactions in a block'),
    max_gas: Uint.describe('most gas the transactions of a block may declare together, and so the largest gas_limit'),
    min_gas_price: AmountOut.describe("base units per unit of declared gas every transaction's fee must cover (chain-wide)"),
    admission_min_gas_price: AmountOut.describe('the gas price this node admits: the chain minimum or the higher floor of its config'),
    max_tx_bytes: Uint.describe('largest transaction this node admits'),
    precision_ms: Uint.describe('timeliness: how far apart honest clocks may be'),
    message_delay_ms: Uint.describe('timeliness: how long a proposal may take to arrive (round 0)'),
    evidence_max_age_heights: Uint,
  }),
  errors: [],
  async handler(node) {
    const l = node.executor.limits;
    return {
      protocol_version: l.protocolVersion, max_bytes: l.maxBytes, max_txs: l.maxTxs, max_gas: l.maxGas,
      min_gas_price: l.minGasPrice.toString(), admission_min_gas_price: node.mempool.minGasPrice.toString(),
      max_tx_bytes: node.mempool.maxTxBytes, precision_ms: node.synchrony.precisionMs, message_delay_ms: node.synchrony.messageDelayMs,
      evidence_max_age_heights: node.executor.evidenceMaxAgeHeights,
    };
  },
});

const chainGetBlock = method({
  name: 'chain_getBlock',
  summary: 'A block by height or by hash; the latest block when neither is given.',
  description: 'Give at most one of height and hash. Transactions that do not decode are listed with their raw bytes and the decoding error.',
  params: z.strictObject({ height: HeightIn.optional(), hash: hexIn('block hash', { bytes: 32 }).optional() })
    .refine((p) => p.height === undefined || p.hash === undefined, { message: 'give height or hash, not both', path: ['hash'] }),
  result: BlockJson,
  errors: ['not_found'],
  async handler(node, p) {
    const latest = latestHeight(node);
    let height: number;
    if (p.hash !== undefined) {
      const h = await node.executor.blocks.heightOf(p.hash);
      if (h === undefined) throw RpcError.notFound(`no block with hash ${toHex(p.hash)}`, { hash: toHex(p.hash) });
      height = h;
    } else {
      height = p.height ?? latest;
      if (height === 0) throw RpcError.notFound(latest === 0 ? 'no blocks yet: the chain is at genesis' : 'no block at height 0: blocks start at 1', { height });
      if (height > latest) throw RpcError.notFound(`no block at height ${height}: the latest height is ${latest}`, { height, latest_height: latest });
    }
    const block = await node.executor.blocks.getBlock(height);
    if (block === undefined) throw RpcError.notFound(`block ${height} is not stored on this node`, { height });
    return blockJson(block);
  },
});

const chainGetCommit = method({
  name: 'chain_getCommit',
  summary: 'The +2/3 precommits that finalised the block at a height (default: the latest).',
  description: 'The commit stored with the block, or else the one carried by the next block as its last_commit.',
  params: z.strictObject({ height: HeightIn.optional() }),
  result: CommitJson,
  errors: ['not_found'],
  async handler(node, p) {
    const height = resolveHeight(node, p.height, 'commit');
    if (height === 0) throw RpcError.notFound('no commit at height 0: blocks start at 1', { height });
    const blocks = node.executor.blocks;
    const commit = (await blocks.getCommit(height)) ?? (await blocks.getBlock(height + 1))?.lastCommit ?? undefined;
    if (commit === undefined) throw RpcError.notFound(`no commit for height ${height} is stored on this node`, { height });
    return commitJson(commit);
  },
});

const txBroadcast = method({
  name: 'tx_broadcast',
  summary: 'Submits a signed transaction to the mempool, and optionally waits for it to be committed.',
  description: "wait 'none' returns once the bytes decode (admission continues in the background; a refusal is only logged), " +
    "'checked' (default) once the mempool admitted it, 'committed' once a block included it (then with its receipt). " +
    "With 'committed', a transaction already pending or already committed is waited for rather than refused.",
  params: z.strictObject({
    tx: hexIn('signed transaction encoding', { maxBytes: MAX_TX_BYTES }),
    wait: z.enum(['none', 'checked', 'committed']).optional().describe("when to answer (default 'checked')"),
    timeout_ms: Uint.optional().describe(`how long 'committed' waits (default ${DEFAULT_WAIT_MS}, at most the server timeout)`),
  }),
  result: z.object({
    hash: Hash32,
    status: z.enum(['submitted', 'checked', 'committed']),
    height: Uint.optional(),
    index: Uint.optional(),
    receipt: ReceiptJson.optional(),
  }),
  errors: ['tx_refused', 'wait_timeout'],
  async handler(node, p, ctx) {
    const wait = p.wait ?? 'checked';
    if (p.timeout_ms !== undefined && p.timeout_ms > ctx.timeoutMs) {
      throw RpcError.invalidParams([{ path: 'timeout_ms', message: `at most ${ctx.timeoutMs} (this server's call timeout), got ${p.timeout_ms}` }]);
    }
    const timeoutMs = p.timeout_ms ?? Math.min(DEFAULT_WAIT_MS, ctx.timeoutMs);
    let hash: Uint8Array;
    try {
      hash = decodeSignedTransaction(p.tx).hash;
    } catch (err) {
      if (err instanceof CodecError) throw refused(new MempoolError('malformed', err.message));
      throw err;
    }
    const hashHex = toHex(hash);
    if (wait === 'none') {
      node.submitTx(p.tx).catch((err: unknown) => {
        ctx.log?.warn('tx_broadcast: transaction refused after the reply was sent', {
          hash: hashHex, reason: err instanceof MempoolError ? err.code : 'internal', error: (err as Error)?.message,
        });
      });
      return { hash: hashHex, status: 'submitted' as const };
    }
    try {
      await node.submitTx(p.tx);
    } catch (err) {
      if (!(err instanceof MempoolError)) throw err;
      const waitAnyway = wait === 'committed' && (err.code === 'duplicate' || (err.code === 'nonce_used' && (await node.executor.blocks.getTx(hash)) !== undefined));
      if (!waitAnyway) throw refused(err);
    }
    if (wait === 'checked') return { hash: hashHex, status: 'checked' as const };
    let inclusion;
    try {
      inclusion = await node.waitForTx(hash, timeoutMs);
    } catch {
      throw new RpcError('wait_timeout', `transaction ${hashHex} was admitted but not committed within ${timeoutMs} ms; look it up later with tx_get`, { hash: hashHex, timeout_ms: timeoutMs });
    }
    return { hash: hashHex, status: 'committed' as const, height: inclusion.height, index: inclusion.index, receipt: receiptJson(inclusion.receipt) };
  },
});

const txGet = method({
  name: 'tx_get',
  summary: 'A committed transaction by hash, with its position and receipt.',
  description: 'tx is null (and raw holds the bytes) for a transaction that was included but does not decode.',
  params: z.strictObject({ hash: hexIn('transaction hash', { bytes: 32 }) }),
  result: z.object({
    hash: Hash32,
    height: Uint,
    index: Uint,
    tx: TxJson.nullable(),
    raw: hexOut('transaction bytes').optional().describe('only when tx is null'),
    receipt: ReceiptJson,
  }),
  errors: ['not_found'],
  async handler(node, p) {
    const stored = await node.executor.blocks.getTx(p.hash);
    const hashHex = toHex(p.hash);
    if (stored === undefined) {
      const pending = node.mempool.has(p.hash);
      throw RpcError.notFound(pending ? `transaction ${hashHex} is pending in the mempool, not committed yet` : `no committed transaction ${hashHex}`, { hash: hashHex, pending });
    }
    return {
      hash: hashHex,
      height: stored.height,
      index: stored.index,
      tx: stored.tx === null ? null : txJson(stored.tx),
      ...(stored.tx === null ? { raw: hex(stored.raw) } : {}),
      receipt: receiptJson(stored.receipt),
    };
  },
});

const stateGetAccount = method({
  name: 'state_getAccount',
  summary: 'Balance and nonce of an account in the latest committed state (zero for an account never used).',
  params: z.strictObject({ address: AddressIn }),
  result: z.object({ address: AddressOut, balance: AmountOut, nonce: Uint, height: Uint.describe('the state version read') }),
  errors: [],
  async handler(node, p) {
    const height = latestHeight(node);
    const account = accountOf(await readState(() => node.tree.get(accountKey(p.address), height), height));
    return { address: formatAddress(p.address), balance: account.balance.toString(), nonce: account.nonce, height };
  },
});

const stateGetProof = method({
  name: 'state_getProof',
  summary: 'A Merkle proof that a state key holds a value (or is absent) at a height, with that height\'s root.',
  description: 'Give key (raw state key) or address (for its account key 0x01 || address), not both. Verify with ' +
    'state/proof.ts: verifyStateProof(root, key, value ?? undefined, decodeStateProof(proof)).',
  params: z.strictObject({
    key: hexIn('state key', { maxBytes: MAX_KEY_BYTES }).optional(),
    address: AddressIn.optional(),
    height: HeightIn.optional().describe('state version: the state after this block (default: the latest; 0 is genesis)'),
  }).refine((p) => (p.key === undefined) !== (p.address === undefined), { message: 'give exactly one of key and address', path: ['key'] }),
  result: z.object({
    key: hexOut('state key'),
    height: Uint,
    value: hexOut('stored value').nullable().describe('null when the key is absent'),
    proof: hexOut('proof in the state/proof.ts canonical encoding'),
    root: Hash32.describe('state root at height'),
  }),
  errors: ['not_found'],
  async handler(node, p) {
    const height = resolveHeight(node, p.height, 'state');
    const key = p.key ?? accountKey(p.address!);
    const [root, proved] = await readState(() => Promise.all([node.tree.root(height), node.tree.prove(key, height)]), height);
    return {
      key: hex(key),
      height,
      value: proved.value === undefined ? null : hex(proved.value),
      proof: hex(encodeStateProof(proved.proof)),
      root: hex(root),
    };
  },
});

const consensusValidators = method({
  name: 'consensus_validators',
  summary: 'The validator set deciding the next height.',
  params: NoParams,
  result: z.object({
    height: Uint.describe('the height this set decides'),
    total_power: Uint,
    validators: z.array(z.object({
      address: AddressOut,
      name: z.string().nullable().describe('display name from genesis'),
      public_key: hexOut('ed25519 public key', 32),
      power: Uint,
      proposer_priority: z.string().optional().describe('decimal; omitted when the node does not expose it'),
    })),
  }),
  errors: [],
  async handler(node) {
    const set = node.validators;
    return {
      height: latestHeight(node) + 1,
      total_power: set.totalPower,
      validators: set.validators.map((v) => ({
        address: formatAddress(v.address),
        name: node.validatorNames.get(toHex(v.address)) ?? null,
        public_key: hex(v.publicKey),
        power: v.power,
      })),
    };
  },
});

const consensusState = method({
  name: 'consensus_state',
  summary: "Where this node's consensus is: height, round, step, locks, and the vote power seen.",
  params: NoParams,
  result: z.object({
    height: Uint,
    round: Uint,
    step: z.string(),
    locked_round: z.int().min(-1).describe('-1 when not locked'),
    valid_round: z.int().min(-1).describe('-1 when no valid value'),
    proposer: AddressOut.describe('proposer of (height, round)'),
    prevote_power: Uint,
    precommit_power: Uint,
    total_power: Uint,
  }),
  errors: [],
  async handler(node) {
    const s = node.consensusState();
    return {
      height: s.height,
      round: s.round,
      step: s.step,
      locked_round: s.lockedRound,
      valid_round: s.validRound,
      proposer: formatAddress(s.proposer),
      prevote_power: s.prevotePower,
      precommit_power: s.precommitPower,
      total_power: s.totalPower,
    };
  },
});

const consensusEvidence = method({
  name: 'consensus_evidence',
  summary: 'Double-sign evidence: included in blocks (newest first), and seen but not yet included.',
  params: NoParams,
  result: z.object({
    committed: z.array(z.object({ height: Uint.describe('height of the block that included it'), evidence: EvidenceJson })),
    pending: z.array(EvidenceJson),
  }),
  errors: [],
  async handler(node) {
    const { committed, pending } = await node.evidence();
    return {
      committed: committed.map((c) => ({ height: c.height, evidence: evidenceJson(c.evidence) })),
      pending: pending.map(evidenceJson),
    };
  },
});

const netInfo = method({
  name: 'net_info',
  summary: 'Listen addresses and connected peers.',
  params: NoParams,
  result: z.object({
    listening: z.boolean(),
    listen_addresses: z.object({ rpc: z.string(), p2p: z.string().nullable() }),
    peers: z.array(z.object({
      id: z.string().describe('libp2p peer id'),
      address: z.string().describe('multiaddr of the connection'),
      direction: z.enum(['inbound', 'outbound']),
      head: Uint.nullable().describe('last committed height the peer reported; null before its status arrived'),
      score: z.number().describe('peer score: penalties lower it, it decays back toward 0'),
      protected: z.boolean().describe('a persistent or allow-listed peer: never pruned or banned'),
    })),
    n_peers: Uint,
  }),
  errors: [],
  async handler(node) {
    const peers = node.peers().map((p) => ({
      id: p.id, address: p.address, direction: p.direction, head: p.head, score: Math.round(p.score * 100) / 100, protected: p.protected,
    }));
    const addrs = node.listenAddresses();
    return { listening: true, listen_addresses: { rpc: addrs.rpc, p2p: addrs.p2p }, peers, n_peers: peers.length };
  },
});

/** The most gas a read-only contract_query may use. */
export const QUERY_GAS_CAP = 50_000_000;

const contractGetCode = method({
  name: 'contract_getCode',
  summary: 'A deployed contract: its original module, code hash, creator and callable methods.',
  params: z.strictObject({ address: AddressIn }),
  result: z.object({
    address: AddressOut, code_hash: Hash32, creator: AddressOut, methods: z.array(z.string()), size: Uint,
    code: hexOut('the module as deployed'), height: Uint.describe('the state version read'),
  }),
  errors: ['not_found'],
  async handler(node, p) {
    const height = latestHeight(node);
    const found = await readState(() => node.executor.contracts.code(new StateOverlay(node.tree, height), p.address), height);
    if (found === undefined) throw RpcError.notFound(`no contract at ${formatAddress(p.address)}`, { address: formatAddress(p.address) });
    const { info, code } = found;
    return {
      address: formatAddress(info.address), code_hash: hex(info.codeHash), creator: formatAddress(info.creator),
      methods: info.methods, size: code.length, code: hex(code), height,
    };
  },
});

const contractQuery = method({
  name: 'contract_query',
  summary: 'Runs a contract method read-only on the latest committed state; nothing it writes is kept.',
  description: `Gas is capped at ${QUERY_GAS_CAP}. A failing method is a result with ok false and the reason, not an RPC error.`,
  params: z.strictObject({
    address: AddressIn,
    method: z.string().min(1).max(MAX_METHOD_LENGTH),
    args: hexIn('arguments in the contract ABI encoding', { maxBytes: MAX_TX_BYTES }).optional(),
    gas_limit: Uint.max(QUERY_GAS_CAP).optional().describe(`default and maximum ${QUERY_GAS_CAP}`),
    caller: AddressIn.optional().describe('the caller the method sees (default: the zero address)'),
  }),
  result: z.object({
    ok: z.boolean(), gas_used: Uint, return_data: hexOut('return data'), error: z.string().optional(),
    events: ReceiptJson.shape.events, height: Uint.describe('the state version the query ran on'),
  }),
  errors: ['not_found'],
  async handler(node, p) {
    latestHeight(node); // before genesis: the error every state method gives
    const caller = p.caller ?? new Uint8Array(20);
    // One height throughout, even if blocks commit while the method runs (see Executor.read).
    const { height, out } = await node.executor.read(async ({ head, overlay, snapshot }) => ({
      height: head.height,
      out: await readState(() => node.executor.contracts.query(
        overlay, snapshot, { chainId: head.chainId, height: head.height, time: head.time, origin: caller },
        caller, p.address, p.method, p.args ?? new Uint8Array(0), p.gas_limit ?? QUERY_GAS_CAP,
      ), head.height),
    }));
    if (!out.ok && out.error.startsWith('no_contract:')) throw RpcError.notFound(`no contract at ${formatAddress(p.address)}`, { address: formatAddress(p.address) });
    const receipt = receiptJson({ status: 0, gasUsed: out.gasUsed, events: out.events, error: out.error, returnData: out.returnData });
    return {
      ok: out.ok, gas_used: out.gasUsed, return_data: hex(out.returnData), ...(out.ok ? {} : { error: out.error }),
      events: receipt.events, height,
    };
  },
});

const rpcDiscover = method({
  name: 'rpc.discover',
  summary: 'The OpenRPC 1.2.6 document describing every method of this server.',
  params: NoParams,
  result: OpenRpcDocumentSchema,
  errors: [],
  async handler(_node, _p, ctx) {
    return openRpcDocument(ctx.methods, RPC_ERRORS);
  },
});

/** Every method the server offers, in the order the docs list them. */
export const RPC_METHODS: readonly RpcMethod[] = Object.freeze([
  chainStatus, chainGetParams, chainGetBlock, chainGetCommit, txBroadcast, txGet, stateGetAccount, stateGetProof,
  contractGetCode, contractQuery, consensusValidators, consensusState, consensusEvidence, netInfo, rpcDiscover,
]);

export { method as defineRpcMethod };
