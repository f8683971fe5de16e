/**
 * Blocks by height and hash, transactions by hash with their receipt and position, and the commit
 * seen for each height. The store only reads; writes are returned as LevelDB ops so the executor
 * can put a block, its receipts and its state changes in one atomic batch.
 *
 * Keys (all under the prefix byte 'b'):
 *   b h height(8)  -> block encoding           b x hash(32)   -> height(8)
 *   b r height(8)  -> [receipt encoding, ...]  b t txHash(32) -> [height, index]
 *   b c height(8)  -> commit encoding (the +2/3 precommits seen for that height)
 *   b e evidenceHash(32)     -> height(8) of the block that committed it
 *   b v height(8) index(4)   -> evidence encoding (so committed evidence lists by height)
 */
import type { Level } from 'level';
import { decodeBlock, type Block } from '../chain/block.ts';
import { concatBytes, readU64be, u64be } from '../chain/bytes.ts';
import { bytes, decodeCanonical, encodeCanonical, list, tuple, uint } from '../chain/codec.ts';
import { decodeEvidence, encodeEvidence, type DuplicateVoteEvidence } from '../chain/evidence.ts';
import { sha256 } from '../chain/hash.ts';
import { decodeReceipt, type Receipt } from '../chain/receipt.ts';
import { decodeSignedTransaction, type SignedTransaction } from '../chain/tx.ts';
import { decodeCommit, encodeCommit, type Commit } from '../chain/vote.ts';
import type { BatchOp } from '../state/tree.ts';

const PREFIX = 0x62; // 'b'
const key = (kind: string, ...parts: Uint8Array[]) => concatBytes(Uint8Array.of(PREFIX, kind.charCodeAt(0)), ...parts);

export interface StoredTx {
  raw: Uint8Array;
  /** null when the bytes in the block did not decode (the receipt says `malformed`). */
  tx: SignedTransaction | null;
  receipt: Receipt;
  height: number;
  index: number;
}

/** Evidence as committed: the height of the block that included it. */
export interface CommittedEvidence {
  height: number;
  evidence: DuplicateVoteEvidence;
}

export class BlockStore {
  readonly #db: Level<Uint8Array, Uint8Array>;

  constructor(db: Level<Uint8Array, Uint8Array>) {
    this.#db = db;
  }

  /** The ops that store a block and its receipts, both given in their canonical encodings. */
  putOps(block: Block, encoded: Uint8Array, hash: Uint8Array, txHashes: readonly Uint8Array[], encodedReceipts: readonly Uint8Array[]): BatchOp[] {
    const h = block.header.height;
    const ops: BatchOp[] = [
      { type: 'put', key: key('h', u64be(h)), value: encoded },
      { type: 'put', key: key('x', hash), value: u64be(h) },
      { type: 'put', key: key('r', u64be(h)), value: encodeCanonical([...encodedReceipts]) },
    ];
    txHashes.forEach((txHash, index) => {
      ops.push({ type: 'put', key: key('t', txHash), value: encodeCanonical([h, index]) });
    });
    block.evidence.forEach((ev, index) => {
      const encodedEvidence = encodeEvidence(ev);
      ops.push({ type: 'put', key: key('e', sha256(encodedEvidence)), value: u64be(h) });
      ops.push({ type: 'put', key: key('v', u64be(h), u32be(index)), value: encodedEvidence });
    });
    return ops;
  }

  commitOps(commit: Commit): BatchOp[] {
    return [{ type: 'put', key: key('c', u64be(commit.height)), value: encodeCommit(commit) }];
  }

  async getBlockBytes(height: number): Promise<Uint8Array | undefined> {
    return this.#db.get(key('h', u64be(height)));
  }

  async getBlock(height: number): Promise<Block | undefined> {
    const b = await this.getBlockBytes(height);
    return b && decodeBlock(b);
  }

  async heightOf(hash: Uint8Array): Promise<number | undefined> {
    const h = await this.#db.get(key('x', hash));
    return h && readU64be(h);
  }

  async getBlockByHash(hash: Uint8Array): Promise<Block | undefined> {
    const h = await this.heightOf(hash);
    return h === undefined ? undefined : this.getBlock(h);
  }

  /** The lowest height whose block is stored (1, or the height after a snapshot restore); undefined before any. */
  async earliestHeight(): Promise<number | undefined> {
    const [first] = await this.#db.keys({ gte: key('h'), lt: key('i'), limit: 1 }).all();
    return first && readU64be(first, 2);
  }

  async getReceipts(height: number): Promise<Receipt[] | undefined> {
    const r = await this.#db.get(key('r', u64be(height)));
    if (!r) return undefined;
    return list(decodeCanonical(r, 'receipts'), Infinity, 'receipts').map((x, i) => decodeReceipt(bytes(x, `receipts[${i}]`, { max: 1 << 20 })));
  }

  async getCommit(height: number): Promise<Commit | undefined> {
    const c = await this.#db.get(key('c', u64be(height)));
    return c && decodeCommit(c);
  }

  /** Height of the block that committed the evidence with this hash (chain/evidence.ts evidenceHash). */
  async getEvidenceHeight(evidenceHash: Uint8Array): Promise<number | undefined> {
    const h = await this.#db.get(key('e', evidenceHash));
    return h && readU64be(h);
  }

  /** Committed evidence, newest first, at most `limit` items. */
  async listEvidence(limit: number): Promise<CommittedEvidence[]> {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`listEvidence: limit must be a non-negative integer, got ${limit}`);
    if (limit === 0) return [];
    const rows = await this.#db.iterator({ gte: key('v'), lt: key('w'), reverse: true, limit }).all();
    return rows.map(readEvidenceRow);
  }

  /** Committed evidence in blocks at `fromHeight` and above, oldest first. */
  async evidenceFrom(fromHeight: number): Promise<CommittedEvidence[]> {
    const rows = await this.#db.iterator({ gte: key('v', u64be(Math.max(0, fromHeight))), lt: key('w') }).all();
    return rows.map(readEvidenceRow);
  }

  async getTx(txHash: Uint8Array): Promise<StoredTx | undefined> {
    const pos = await this.#db.get(key('t', txHash));
    if (!pos) return undefined;
    const [hv, iv] = tuple(decodeCanonical(pos, 'tx position'), 2, 'tx position');
    const height = uint(hv, 'height');
    const index = uint(iv, 'index');
    const [block, receipts] = await Promise.all([this.getBlock(height), this.getReceipts(height)]);
    const raw = block?.txs[index];
    const receipt = receipts?.[index];
    if (!raw || !receipt) throw new Error(`block store is inconsistent: tx index points at ${height}/${index}`);
    let tx: SignedTransaction | null = null;
    try {
      tx = decodeSignedTransaction(raw);
    } catch {
      // kept as raw bytes; the receipt carries the decode error
    }
    return { raw, tx, receipt, height, index };
  }
}

function u32be(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

function readEvidenceRow([k, v]: [Uint8Array, Uint8Array]): CommittedEvidence {
  return { height: readU64be(k, 2), evidence: decodeEvidence(v) };
}
