/**
 * model_*: the model registry (execution/models.ts). Every answer gives the height it was read at,
 * and every record and attestation the state key it is stored under, so a client can prove any of
 * it with state_getProof; model_getProof returns the proof bundle a light client checks alone.
 * Pages are bounded by `limit`; lineage walks by depth and by MAX_LINEAGE_VISITS records.
 */
import { z } from 'zod';
import { toHex } from '../../chain/bytes.ts';
import { encodeHeader } from '../../chain/block.ts';
import { encodeCommit } from '../../chain/vote.ts';
import { attestationsOf, getRecord, lineage, MAX_LINEAGE_DEPTH, recordsByOwner, recordsByTensor, type Page } from '../../execution/model-query.ts';
import { fingerprintOfNameKey } from '../../execution/model-names.ts';
import { manifestKey, recordKey, type ModelRecord, type StateGet } from '../../models/record.ts';
import { encodeStateProof } from '../../state/tree.ts';
import { RpcError } from '../errors.ts';
import { hex, hexOut, Uint } from '../json.ts';
import { AddressIn, defineRpcMethod, HeightIn, hexIn, latestHeight, readState } from '../method.ts';
import type { NodeQuery } from '../query.ts';
import {
  AttestationJson, attestationJson, CursorIn, CursorOut, LimitIn, ModelJson, modelJson, ModelProofJson,
} from '../model-json.ts';

const PAGE = 50;
const MAX_PAGE = 200;
const FpIn = hexIn('model fingerprint', { bytes: 32 });

function reader(node: NodeQuery, height: number): StateGet {
  return (key) => readState(() => node.stateValue(key, height), height);
}

async function requireRecord(get: StateGet, fp: Uint8Array): Promise<ModelRecord> {
  const r = await getRecord(get, fp);
  if (r === undefined) throw RpcError.notFound(`no model with fingerprint ${toHex(fp)} is registered`, { fingerprint: toHex(fp) });
  return r;
}

const cursorOf = (c: string | undefined) => (c === undefined ? 0 : Number(c));
const nextCursor = (p: Page<unknown>) => (p.next === null ? null : String(p.next));
const ModelPage = z.object({ height: Uint, models: z.array(ModelJson), total: Uint, next_cursor: CursorOut });

export const modelGet = defineRpcMethod({
  name: 'model_get',
  summary: 'The model registered with a fingerprint.',
  params: z.strictObject({ fingerprint: FpIn }),
  result: z.object({ height: Uint.describe('the state version read'), model: ModelJson }),
  errors: ['not_found'],
  async handler(node, p) {
    const height = latestHeight(node);
    return { height, model: modelJson(await requireRecord(reader(node, height), p.fingerprint)) };
  },
});

/** A page of records from one index list, read at the latest height. */
async function modelPage(node: NodeQuery, cursor: string | undefined, limit: number | undefined, read: typeof recordsByOwner, id: Uint8Array) {
  const height = latestHeight(node);
  const page = await read(reader(node, height), id, cursorOf(cursor), limit ?? PAGE);
  return { height, models: page.items.map(modelJson), total: page.total, next_cursor: nextCursor(page) };
}

export const modelGetByTensor = defineRpcMethod({
  name: 'model_getByTensor',
  summary: 'The models registered with a tensor fingerprint (the same weights, however sharded or annotated).',
  params: z.strictObject({ tensor_fingerprint: hexIn('tensor fingerprint', { bytes: 32 }), cursor: CursorIn, limit: LimitIn(MAX_PAGE, PAGE) }),
  result: ModelPage,
  errors: [],
  handler: (node, p) => modelPage(node, p.cursor, p.limit, recordsByTensor, p.tensor_fingerprint),
});

export const modelListByOwner = defineRpcMethod({
  name: 'model_listByOwner',
  summary: 'The models an account owns.',
  params: z.strictObject({ owner: AddressIn, cursor: CursorIn, limit: LimitIn(MAX_PAGE, PAGE) }),
  result: ModelPage,
  errors: [],
  handler: (node, p) => modelPage(node, p.cursor, p.limit, recordsByOwner, p.owner),
});

export const modelSearch = defineRpcMethod({
  name: 'model_search',
  summary: 'Models whose name starts with a prefix (case-insensitive), in name order.',
  description: 'The name index is kept beside the state; each model returned is a state record (provable with its key).',
  params: z.strictObject({
    prefix: z.string().max(128),
    cursor: hexIn('next_cursor of the previous page', { maxBytes: 1 + 4 * 128 + 1 + 32 }).optional(),
    limit: LimitIn(MAX_PAGE, PAGE),
  }),
  result: z.object({ height: Uint, models: z.array(ModelJson), next_cursor: z.string().nullable() }),
  errors: [],
  async handler(node, p) {
    const limit = p.limit ?? PAGE;
    const found = await node.modelNameKeys(p.prefix, p.cursor, limit + 1);
    const get = reader(node, found.height);
    const keys = found.keys.slice(0, limit);
    const models = [];
    for (const key of keys) models.push(modelJson(await requireRecord(get, fingerprintOfNameKey(key))));
    return { height: found.height, models, next_cursor: found.keys.length > limit ? toHex(keys[keys.length - 1]!) : null };
  },
});

export const modelLineage = defineRpcMethod({
  name: 'model_lineage',
  summary: "A model's ancestors (its parents, theirs, …) or descendants, as a graph, breadth first.",
  description: 'nodes lists each model once with its depth from the root (the root is depth 0 and first on the first page); ' +
    'edges link each listed node to the next depth. A walk reads at most 2,000 records: truncated says it stopped there.',
  params: z.strictObject({
    fingerprint: FpIn,
    direction: z.enum(['ancestors', 'descendants']).optional().describe('default ancestors'),
    depth: Uint.min(1).max(MAX_LINEAGE_DEPTH).optional().describe(`levels to walk (default 16, at most ${MAX_LINEAGE_DEPTH})`),
    cursor: CursorIn,
    limit: LimitIn(500, 100),
  }),
  result: z.object({
    height: Uint,
    root: hexOut('fingerprint', 32),
    direction: z.enum(['ancestors', 'descendants']),
    nodes: z.array(z.object({ depth: Uint, model: ModelJson })),
    edges: z.array(z.object({ child: hexOut('fingerprint', 32), parent: hexOut('fingerprint', 32), relation: z.string() })),
    next_cursor: CursorOut,
    truncated: z.boolean(),
  }),
  errors: ['not_found'],
  async handler(node, p) {
    const height = latestHeight(node);
    const get = reader(node, height);
    const root = await requireRecord(get, p.fingerprint);
    const direction = p.direction ?? 'ancestors';
    const walk = await lineage(get, root, direction, p.depth ?? 16, cursorOf(p.cursor), p.limit ?? 100);
    return {
      height, root: hex(root.fingerprint), direction,
      nodes: walk.nodes.map((n) => ({ depth: n.depth, model: modelJson(n.record) })),
      edges: walk.edges.map((e) => ({ child: hex(e.child), parent: hex(e.parent), relation: e.relation })),
      next_cursor: walk.next === null ? null : String(walk.next), truncated: walk.truncated,
    };
  },
});

export const modelAttestations = defineRpcMethod({
  name: 'model_attestations',
  summary: 'The attestations made about a model, oldest first, revoked ones included (marked).',
  params: z.strictObject({ fingerprint: FpIn, cursor: CursorIn, limit: LimitIn(MAX_PAGE, PAGE) }),
  result: z.object({ height: Uint, attestations: z.array(AttestationJson), total: Uint, next_cursor: CursorOut }),
  errors: ['not_found'],
  async handler(node, p) {
    const height = latestHeight(node);
    const get = reader(node, height);
    await requireRecord(get, p.fingerprint);
    const page = await attestationsOf(get, p.fingerprint, cursorOf(p.cursor), p.limit ?? PAGE);
    return { height, attestations: page.items.map(attestationJson), total: page.total, next_cursor: nextCursor(page) };
  },
});

export const modelGetProof = defineRpcMethod({
  name: 'model_getProof',
  summary: "A model's record and manifest with their state proofs, and the header and commit that sign their state root.",
  description: 'Proves the state after block height (default: the latest block but one, whose root the latest header carries) ' +
    'with the header of block height + 1 and its commit. A light client checks the commit against the validators it trusts, ' +
    'the header against the commit, the root against the header and the values against the root; it trusts nothing else here. ' +
    'A record registered by the latest block is proven once the next block commits: the call waits for it (at most 10 s).',
  params: z.strictObject({ fingerprint: FpIn, height: HeightIn.optional() }),
  result: ModelProofJson,
  errors: ['not_found'],
  async handler(node, p) {
    let latest = latestHeight(node);
    if (p.height === undefined && await node.stateValue(recordKey(p.fingerprint), latest) !== undefined &&
      (latest === 0 || await node.stateValue(recordKey(p.fingerprint), latest - 1) === undefined)) {
      // Registered by the latest block: its state is signed by the next header, so wait for it.
      latest = await nextHeight(node, latest);
    }
    if (latest === 0) throw RpcError.notFound('no blocks yet: a proof needs the header of the block after it', { latest_height: 0 });
    const height = p.height ?? latest - 1;
    if (height >= latest) throw RpcError.notFound(`the state after block ${height} is not signed yet: the latest height is ${latest}`, { height, latest_height: latest });
    const [block, commit] = await Promise.all([node.block(height + 1), node.commit(height + 1)]);
    if (block === undefined || commit === undefined) throw RpcError.notFound(`block ${height + 1} or its commit is not stored on this node`, { height: height + 1 });
    const prove = async (key: Uint8Array) => {
      const proved = await readState(() => node.stateProof(key, height), height);
      return { root: proved.root, json: { key: hex(key), value: proved.value === undefined ? null : hex(proved.value), proof: hex(encodeStateProof(proved.proof)) } };
    };
    const [record, manifest] = await Promise.all([prove(recordKey(p.fingerprint)), prove(manifestKey(p.fingerprint))]);
    return {
      height, root: hex(record.root), record: record.json, manifest: manifest.json,
      header: hex(encodeHeader(block.header)), commit: hex(encodeCommit(commit)),
    };
  },
});

/** The height after `height` once it is committed, or `height` after NEXT_BLOCK_WAIT_MS. */
async function nextHeight(node: NodeQuery, height: number): Promise<number> {
  for (const until = Date.now() + NEXT_BLOCK_WAIT_MS; Date.now() < until;) {
    const now = latestHeight(node);
    if (now > height) return now;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return height;
}
const NEXT_BLOCK_WAIT_MS = 10_000;

export const MODEL_METHODS = [modelGet, modelGetByTensor, modelListByOwner, modelSearch, modelLineage, modelAttestations, modelGetProof] as const;
