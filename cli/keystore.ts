/**
 * Named ed25519 keys in `<home>/keys/<name>.json`, one file per key:
 *
 *   { "address": "hm1…", "public_key": "<64 hex>", "secret_key": "<64 hex>" }
 *
 * The secret is the RFC 8032 seed, unencrypted: this is a devnet and operator key store, guarded by
 * file permissions (files 0600, the directory 0700). On read, the public key and the address must
 * follow from the secret, so a hand-edited or truncated file is refused rather than half-used.
 * `validator` is the node's own signing key; `faucet` is the devnet's funded account.
 */
import { access, chmod, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { addressOf, formatAddress } from '../chain/address.ts';
import { equalBytes, fromHex, toHex } from '../chain/bytes.ts';
import { writeFileDurably } from '../chain/durable-file.ts';
import { CodedError } from '../chain/errors.ts';
import { parseJsonText } from '../chain/schema-problems.ts';
import { generateKeyPair, keyPairFromSecret, type KeyPair, type RandomSource } from '../chain/keys.ts';

export const KEY_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
export const VALIDATOR_KEY = 'validator';
export const FAUCET_KEY = 'faucet';

export type KeyErrorCode = 'key_name_invalid' | 'key_exists' | 'key_not_found' | 'key_file_invalid';

export class KeyError extends CodedError<KeyErrorCode> {}

/** A key without its secret: what `keys list` and `keys show` print. */
export interface KeyInfo {
  name: string;
  /** bech32m text form, hm1… */
  address: string;
  publicKey: Uint8Array;
}

export interface StoredKey extends KeyInfo {
  secretKey: Uint8Array;
}

export function keysDir(home: string): string {
  return join(home, 'keys');
}

export function keyPath(home: string, name: string): string {
  return join(keysDir(home), `${checkKeyName(name)}.json`);
}

export function checkKeyName(name: string): string {
  if (typeof name !== 'string' || !KEY_NAME.test(name)) {
    throw new KeyError('key_name_invalid',
      `key name ${JSON.stringify(name)}: use 1-32 characters of a-z, 0-9, '_' and '-', starting with a letter or digit`);
  }
  return name;
}

/** The key file's JSON text for a key pair. */
export function formatKeyFile(key: KeyPair): string {
  return `${JSON.stringify({
    address: formatAddress(addressOf(key.publicKey)),
    public_key: toHex(key.publicKey),
    secret_key: toHex(key.secretKey),
  }, null, 2)}\n`;
}

/**
 * Writes a new key file with mode 0600, whole or not at all; refuses (KeyError key_exists) if the
 * file exists, so two writers cannot both think they made the key.
 */
export async function writeKeyFile(path: string, key: KeyPair, name = path): Promise<void> {
  try {
    writeFileDurably(path, formatKeyFile(key), { exclusive: true, mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new KeyError('key_exists', `a key named ${JSON.stringify(name)} already exists (${path})`);
    throw err;
  }
}

/** Reads and checks a key file; every problem is a KeyError naming the file. */
export async function readKeyFile(path: string, name: string): Promise<StoredKey> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new KeyError('key_not_found', `no key named ${JSON.stringify(name)} (${path} does not exist)`);
    throw new KeyError('key_file_invalid', `${path}: cannot read: ${(err as Error).message}`);
  }
  const bad = (what: string) => new KeyError('key_file_invalid', `${path}: ${what}`);
  const read = parseJsonText(text, KEY_FILE_SCHEMA);
  if ('problems' in read) throw bad(read.problems.join('; '));
  const d = read.value;
  const pair = keyPairFromSecret(fromHex(d.secret_key));
  const address = formatAddress(addressOf(pair.publicKey));
  if (!equalBytes(fromHex(d.public_key), pair.publicKey)) throw bad('public_key does not belong to secret_key');
  if (d.address !== address) throw bad(`address does not belong to the key (expected ${address})`);
  return { name, address, publicKey: pair.publicKey, secretKey: pair.secretKey };
}

/** A key file's shape; readKeyFile then checks that the public key and address follow from the secret. */
const HEX_KEY = z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex characters');
const KEY_FILE_SCHEMA = z.strictObject({ address: z.string(), public_key: HEX_KEY, secret_key: HEX_KEY });

export async function ensureKeysDir(home: string): Promise<string> {
  const dir = keysDir(home);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  return dir;
}

/** Generates and stores a new key; refuses bad and existing names. */
export async function addKey(home: string, name: string, opts: { random?: RandomSource } = {}): Promise<KeyInfo> {
  const path = keyPath(home, name);
  await ensureKeysDir(home);
  const pair = generateKeyPair(opts.random);
  await writeKeyFile(path, pair, name);
  return { name, address: formatAddress(addressOf(pair.publicKey)), publicKey: pair.publicKey };
}

/** Every key in the store, by name. A malformed key file is an error naming it, not skipped. */
export async function listKeys(home: string): Promise<KeyInfo[]> {
  let entries: string[];
  try {
    entries = await readdir(keysDir(home));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const names = entries.filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).filter((n) => KEY_NAME.test(n)).sort();
  const keys = await Promise.all(names.map((n) => showKey(home, n)));
  return keys;
}

/** A stored key, secret included (for signing). */
export async function getKey(home: string, name: string): Promise<StoredKey> {
  return readKeyFile(keyPath(home, name), name);
}

/** A stored key without its secret. */
export async function showKey(home: string, name: string): Promise<KeyInfo> {
  const { secretKey, ...info } = await getKey(home, name);
  secretKey.fill(0);
  return info;
}

/** Whether a key of that name exists (false for names that are not valid key names). */
export async function hasKey(home: string, name: string): Promise<boolean> {
  if (!KEY_NAME.test(name)) return false;
  try {
    await access(keyPath(home, name));
    return true;
  } catch {
    return false;
  }
}
