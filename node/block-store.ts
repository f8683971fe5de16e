/**
 * Blocks by height and hash, transactions by hash with their receipt and position, and the commit
 * seen for each height. The store only reads; writes are returned as LevelDB ops so the executor
 * can put a block, its receipts and its state changes in one atomic batch.
 *
 * Keys (all under the prefix byte 'b'):
 *   b h height(8)  -> block encoding           b x hash(32)   -> height(8)
 *   b r height(8)  -> [receipt encoding, ...]  b t txHash(32) -> [height, index]
 *   b c height(8)  -> commit encoding (the +2/3 precommits seen for that height)
 */
import type { Level } from 'level';
import { decodeBlock, type Block } from '../chain/block.ts';
import { concatBytes, readU64be, u64be } from '../chain/bytes.ts';
import { bytes, decodeCanonical, encodeCanonical, list, tuple, uint } from '../chain/codec.ts';
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

  async getReceipts(height: number): Promise<Receipt[] | undefined> {
    const r = await this.#db.get(key('r', u64be(height)));
    if (!r) return undefined;
    return list(decodeCanonical(r, 'receipts'), Infinity, 'receipts').map((x, i) => decodeReceipt(bytes(x, `receipts[${i}]`, { max: 1 << 20 })));
  }

  async getCommit(height: number): Promise<Commit | undefined> {
    const c = await this.#db.get(key('c', u64be(height)));
    return c && decodeCommit(c);
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
