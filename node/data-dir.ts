/**
 * The node's chain database under <home>/data and its format marker: the data format version,
 * the genesis hash and the protocol version it was written under, checked at every start so a
 * directory is never read by rules other than those that wrote it.
 */
import { join } from 'node:path';
import { Level } from 'level';
import { equalBytes, toHex } from '../chain/bytes.ts';
import { bytes, decodeCanonical, encodeCanonical, tuple } from '../chain/codec.ts';
import type { Executor } from '../execution/executor.ts';
import { genesisHash, toGenesisState, type Genesis } from '../genesis/genesis.ts';
import type { Logger } from './log.ts';

/** Key of the data directory's format version, genesis hash and protocol version, next to the executor's keys. */
const META_KEY = Uint8Array.of(0x76); // 'v'
/**
 * Bumped whenever the layout of anything in data/ changes; an older layout is refused, never
 * guessed at. 3: headers carry the protocol version, the marker records it.
 */
export const DATA_FORMAT_VERSION = 3;

function encodeMeta(genesis: Genesis): Uint8Array {
  return encodeCanonical([DATA_FORMAT_VERSION, genesisHash(genesis), genesis.protocolVersion]);
}

/** The marker's write, for a directory filled by a snapshot restore instead of from genesis. */
export function markerOps(genesis: Genesis): { type: 'put'; key: Uint8Array; value: Uint8Array }[] {
  return [{ type: 'put', key: META_KEY, value: encodeMeta(genesis) }];
}

/**
 * Refuses a data directory of another format, one written under another protocol version (its
 * state was computed by other rules), or one made from a different genesis.json.
 */
function checkMeta(raw: Uint8Array | undefined, genesis: Genesis, dataDir: string): void {
  if (raw === undefined) {
    throw new Error(`${dataDir} has no format marker: it was written by an older Hallmark. Move it away (or delete it) to start the chain again`);
  }
  const fields = decodeCanonical(raw, 'data format marker');
  const version = Array.isArray(fields) ? fields[0] : undefined;
  if (version !== DATA_FORMAT_VERSION) {
    throw new Error(`${dataDir} is in data format ${String(version)}, this Hallmark reads format ${DATA_FORMAT_VERSION}: it was written by another version of Hallmark. Move it away (or delete it) to start the chain again, or run the Hallmark that wrote it`);
  }
  const [, hash, protocol] = tuple(fields, 3, 'data format marker');
  if (protocol !== genesis.protocolVersion) {
    throw new Error(`${dataDir} was written under protocol version ${String(protocol)}, but genesis.json and this Hallmark run protocol ${genesis.protocolVersion}: its state was computed by other rules. Run the Hallmark of protocol ${String(protocol)}, or move the directory away to start again`);
  }
  const expected = genesisHash(genesis);
  if (!equalBytes(bytes(hash, 'genesis hash', 32), expected)) {
    throw new Error(`genesis.json has changed since ${dataDir} was created from it (genesis hash ${toHex(bytes(hash, 'genesis hash', 32)).slice(0, 16)}…, now ${toHex(expected).slice(0, 16)}…): restore the original; per-node timeouts belong in config.toml [consensus]`);
  }
}

/** Opens the LevelDB database at <dataDir>/chain, saying what to check when it cannot. */
export async function openChainDb(dataDir: string): Promise<Level<Uint8Array, Uint8Array>> {
  const db = new Level<Uint8Array, Uint8Array>(join(dataDir, 'chain'), { keyEncoding: 'view', valueEncoding: 'view' });
  try {
    await db.open();
  } catch (err) {
    throw new Error(`cannot open the chain database in ${join(dataDir, 'chain')}: ${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message} (is another node running on this home?)`);
  }
  return db;
}

/** A new database is initialised from genesis under a fresh marker; an existing one must match it. */
export async function initOrCheckChain(
  db: Level<Uint8Array, Uint8Array>, executor: Executor, genesis: Genesis, dataDir: string, log: Logger,
): Promise<void> {
  const head = executor.head;
  if (head === undefined) {
    // The marker first: a crash between the two then leaves a marked directory without a
    // chain, which the next start initialises, never a chain without its marker.
    await db.put(META_KEY, encodeMeta(genesis));
    await executor.initGenesis(toGenesisState(genesis));
    log.info('initialised the chain from genesis', { chain_id: genesis.chainId, validators: genesis.validators.length });
  } else if (head.chainId !== genesis.chainId) {
    throw new Error(`the database in ${dataDir} holds chain ${head.chainId}, but genesis.json is for ${genesis.chainId}`);
  } else {
    checkMeta(await db.get(META_KEY), genesis, dataDir);
  }
}
