/**
 * The node's libp2p identity: an ed25519 key, separate from the validator's signing key, kept in
 * one JSON file (by convention `<data>/node_key.json`, mode 0600):
 *
 *   { "peer_id": "12D3Koo…", "private_key": "<64 hex: the RFC 8032 seed>" }
 *
 * Created on first use. A file that exists but is malformed is an error naming the file, never
 * replaced: a new key would silently give the node a new peer id, and peers that pinned the old
 * one would no longer recognise it.
 */
import { readFile } from 'node:fs/promises';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { z } from 'zod';
import { fromHex, toHex } from '../chain/bytes.ts';
import { writeFileDurably } from '../chain/durable-file.ts';
import { CodedError } from '../chain/errors.ts';
import type { RandomSource } from '../chain/keys.ts';
import { parseJsonText } from '../chain/schema-problems.ts';

export const NODE_KEY_FILE = 'node_key.json';

export type NodeKeyErrorCode = 'node_key_invalid' | 'node_key_missing' | 'node_key_unreadable';

export class NodeKeyError extends CodedError<NodeKeyErrorCode> {}

export interface NodeKey {
  privateKey: Ed25519PrivateKey;
  /** The base58 text form, 12D3Koo… */
  peerId: string;
}

const systemRandom: RandomSource = (length) => crypto.getRandomValues(new Uint8Array(length));

/** A node key from its 32-byte seed. */
export async function nodeKeyFromSeed(seed: Uint8Array): Promise<NodeKey> {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new NodeKeyError('node_key_invalid', 'a node key seed is 32 bytes');
  const privateKey = await generateKeyPairFromSeed('Ed25519', seed);
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString() };
}

/** The file's JSON text for a key. */
export function formatNodeKeyFile(key: NodeKey): string {
  // An Ed25519 private key's raw form is seed || public key; the file keeps only the seed.
  const seed = key.privateKey.raw.subarray(0, 32);
  return `${JSON.stringify({ peer_id: key.peerId, private_key: toHex(seed) }, null, 2)}\n`;
}

/** Reads and checks a node key file; every problem is a NodeKeyError naming the file. */
export async function readNodeKey(path: string): Promise<NodeKey> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NodeKeyError('node_key_missing', `${path}: no node key file`);
    throw new NodeKeyError('node_key_unreadable', `${path}: cannot read the node key: ${(err as Error).message}`);
  }
  return parseNodeKey(text, path);
}

const NODE_KEY_SCHEMA = z.strictObject({
  peer_id: z.string(),
  private_key: z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex characters'),
});

export async function parseNodeKey(text: string, path: string): Promise<NodeKey> {
  const bad = (what: string) => new NodeKeyError('node_key_invalid',
    `${path}: ${what} (fix or remove the file; removing it gives this node a new peer id)`);
  const read = parseJsonText(text, NODE_KEY_SCHEMA);
  if ('problems' in read) throw bad(read.problems.join('; '));
  const d = read.value;
  const key = await nodeKeyFromSeed(fromHex(d.private_key));
  if (d.peer_id !== key.peerId) throw bad(`peer_id does not belong to private_key (expected ${key.peerId})`);
  return key;
}

/**
 * The node key at `path`, created (mode 0600) if the file does not exist. The directory must exist.
 */
export async function loadOrCreateNodeKey(path: string, opts: { random?: RandomSource } = {}): Promise<NodeKey> {
  try {
    return await readNodeKey(path);
  } catch (err) {
    if (!(err instanceof NodeKeyError && err.code === 'node_key_missing')) throw err;
  }
  const key = await nodeKeyFromSeed((opts.random ?? systemRandom)(32));
  // Exclusive: a crash never leaves a half-written key at `path`, and if the file appeared
  // meanwhile the write fails, so two starts cannot both win.
  try {
    writeFileDurably(path, formatNodeKeyFile(key), { exclusive: true, mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readNodeKey(path);
    throw new NodeKeyError('node_key_unreadable', `${path}: cannot create the node key: ${(err as Error).message}`);
  }
  return key;
}
