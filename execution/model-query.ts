/**
 * Reads of the model registry at one committed height, for the model_* RPC methods: records, the
 * pages of an index list, and lineage walks. Every answer is made of tree values (so each is
 * provable with state_getProof at the same height), and every walk is bounded: a page holds at most
 * `limit` items and a lineage walk visits at most MAX_LINEAGE_VISITS records, however the graph is
 * shaped or whatever cursor is sent.
 */
import type { Address } from '../chain/address.ts';
import { toHex } from '../chain/bytes.ts';
import type { ModelRelation } from '../chain/model-op.ts';
import {
  attestationKey, decodeAttestation, decodeModelRecord, LIST, listItems, recordKey,
  type Attestation, type ModelRecord, type StateGet,
} from '../models/record.ts';

/**
 * The most records one lineage request reads (pages included): what bounds its cost. A read with
 * its share of the answer costs ~40 µs here (bench/model-registry.bench.ts), so a request costs at
 * most ~80 ms, about what contract_query's gas cap allows. A 1,024-deep chain still lists whole.
 */
export const MAX_LINEAGE_VISITS = 2_000;
export const MAX_LINEAGE_DEPTH = 1_024;

export async function getRecord(get: StateGet, fingerprint: Uint8Array): Promise<ModelRecord | undefined> {
  const raw = await get(recordKey(fingerprint));
  return raw === undefined ? undefined : decodeModelRecord(raw);
}

export interface Page<T> {
  items: T[];
  total: number;
  /** Where the next page starts, or null after the last. */
  next: number | null;
}

async function recordPage(get: StateGet, family: typeof LIST.byOwner | typeof LIST.byTensor, id: Uint8Array, from: number, limit: number): Promise<Page<ModelRecord>> {
  const { items, total } = await listItems(get, family, id, from, limit);
  const records: ModelRecord[] = [];
  for (const fp of items) {
    const r = await getRecord(get, fp);
    if (r === undefined) throw new Error(`model index: ${toHex(fp)} is listed but has no record`);
    records.push(r);
  }
  return { items: records, total, next: from + items.length < total ? from + items.length : null };
}

export const recordsByOwner = (get: StateGet, owner: Address, from: number, limit: number) => recordPage(get, LIST.byOwner, owner, from, limit);
export const recordsByTensor = (get: StateGet, tfp: Uint8Array, from: number, limit: number) => recordPage(get, LIST.byTensor, tfp, from, limit);

export async function attestationsOf(get: StateGet, fingerprint: Uint8Array, from: number, limit: number): Promise<Page<Attestation>> {
  const { items, total } = await listItems(get, LIST.attestations, fingerprint, from, limit);
  const out: Attestation[] = [];
  for (const id of items) {
    const raw = await get(attestationKey(id));
    if (raw === undefined) throw new Error(`model index: attestation ${toHex(id)} is listed but missing`);
    out.push(decodeAttestation(raw));
  }
  return { items: out, total, next: from + items.length < total ? from + items.length : null };
}

export interface LineageEdge {
  child: Uint8Array;
  parent: Uint8Array;
  relation: ModelRelation;
}

export interface Lineage {
  /** Records in breadth-first order from the root (the root itself is depth 0 and always first). */
  nodes: { depth: number; record: ModelRecord }[];
  /** Edges from each listed node toward the next depth (its parents, or its children). */
  edges: LineageEdge[];
  /** Offset of the next page in the same walk, or null when the walk is complete. */
  next: number | null;
  /** The walk was cut at MAX_LINEAGE_VISITS records: ask for less depth, or a narrower root. */
  truncated: boolean;
}

/**
 * A breadth-first walk from `root` toward its ancestors or descendants, down to `depth` levels,
 * each record listed once (a merge can reach one ancestor by two paths). The page is the walk's
 * nodes [from, from + limit); the walk is repeated from the root for each page, which is what keeps
 * the cursor a plain offset, and it stops after from + limit nodes. However wide the graph (a base
 * model with many children), a request reads at most MAX_LINEAGE_VISITS records.
 */
export async function lineage(
  get: StateGet, root: ModelRecord, direction: 'ancestors' | 'descendants', depth: number, from: number, limit: number,
  maxVisits = MAX_LINEAGE_VISITS,
): Promise<Lineage> {
  const stop = Math.min(from + limit, maxVisits);
  const order: { depth: number; record: ModelRecord }[] = [{ depth: 0, record: root }];
  const seen = new Set([toHex(root.fingerprint)]);
  const edges: LineageEdge[] = [];
  const budget = { reads: maxVisits };
  let complete = true;
  for (let i = 0; i < order.length && budget.reads > 0; i++) {
    const { depth: d, record } = order[i]!;
    const listed = i >= from && i < stop;
    if (d >= depth) continue;
    const next = direction === 'ancestors' ? await parentsOf(get, record, budget) : await childrenOf(get, record, budget);
    for (const { other, relation } of next) {
      const edge = direction === 'ancestors'
        ? { child: record.fingerprint, parent: other.fingerprint, relation }
        : { child: other.fingerprint, parent: record.fingerprint, relation };
      if (listed) edges.push(edge);
      const key = toHex(other.fingerprint);
      if (seen.has(key)) continue;
      if (order.length >= stop) {
        complete = false;
        continue;
      }
      seen.add(key);
      order.push({ depth: d + 1, record: other });
    }
  }
  const nodes = order.slice(from, stop);
  // Stopped by the budget, or more nodes than any page may reach: either way the walk is cut short.
  const truncated = budget.reads <= 0 || (!complete && stop >= maxVisits);
  return { nodes, edges, next: !complete && !truncated ? stop : null, truncated };
}

type Budget = { reads: number };

async function readLinked(get: StateGet, from: ModelRecord, fp: Uint8Array, budget: Budget): Promise<ModelRecord> {
  budget.reads--;
  const r = await getRecord(get, fp);
  if (r === undefined) throw new Error(`model ${toHex(from.fingerprint)}: linked model ${toHex(fp)} has no record`);
  return r;
}

async function parentsOf(get: StateGet, r: ModelRecord, budget: Budget): Promise<{ other: ModelRecord; relation: ModelRelation }[]> {
  const out: { other: ModelRecord; relation: ModelRelation }[] = [];
  for (const p of r.parents) {
    if (budget.reads <= 0) break;
    out.push({ other: await readLinked(get, r, p.fingerprint, budget), relation: p.relation });
  }
  return out;
}

async function childrenOf(get: StateGet, r: ModelRecord, budget: Budget): Promise<{ other: ModelRecord; relation: ModelRelation }[]> {
  const out: { other: ModelRecord; relation: ModelRelation }[] = [];
  const { items } = await listItems(get, LIST.children, r.fingerprint, 0, Math.max(budget.reads, 0));
  for (const fp of items) {
    const child = await readLinked(get, r, fp, budget);
    const relation = child.parents.find((p) => toHex(p.fingerprint) === toHex(r.fingerprint))!.relation;
    out.push({ other: child, relation });
  }
  return out;
}
