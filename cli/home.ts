/**
 * The node's home (data) directory, `~/.hallmark` unless `--home DIR` or HALLMARK_HOME says
 * otherwise:
 *
 *   config.toml            node settings (node/config.ts)
 *   genesis.json           the chain's genesis (genesis/schema.ts)
 *   keys/validator.json    this node's validator key          (0600)
 *   keys/faucet.json       the devnet's funded account          (0600)
 *   keys/<name>.json       other keys made with `hallmark keys add`
 *   data/                  the node's databases and WAL
 *
 * `initHome` writes a single-validator devnet; `loadHome` reads a home back with every file checked
 * and every error naming the file to fix.
 */
import { access, mkdir, readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { addressOf, formatAddress } from '../chain/address.ts';
import { writeFileDurably } from '../chain/durable-file.ts';
import { CodedError } from '../chain/errors.ts';
import { generateKeyPair, type RandomSource } from '../chain/keys.ts';
import { devnetGenesis } from '../genesis/devnet.ts';
import type { Genesis } from '../genesis/genesis.ts';
import { formatGenesis, GenesisError, parseGenesis } from '../genesis/schema.ts';
import { CONFIG_FILE, defaultConfig, formatConfig, loadConfig, type NodeConfig } from '../node/config.ts';
import { ensureKeysDir, FAUCET_KEY, keyPath, keysDir, readKeyFile, VALIDATOR_KEY, writeKeyFile } from './keystore.ts';

export const GENESIS_FILE = 'genesis.json';
export const DATA_DIR = 'data';

export type HomeErrorCode = 'home_exists' | 'home_not_initialized' | 'genesis_invalid';

export class HomeError extends CodedError<HomeErrorCode> {
  /** For genesis_invalid: the problems GenesisError listed. */
  readonly problems: readonly string[];

  constructor(code: HomeErrorCode, message: string, problems: readonly string[] = []) {
    super(code, message);
    this.problems = problems;
  }
}

export interface HomePaths {
  home: string;
  config: string;
  genesis: string;
  keys: string;
  data: string;
}

export interface ValidatorKey {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  /** hm1… */
  address: string;
}

export interface LoadedHome {
  config: NodeConfig;
  genesis: Genesis;
  /** null when keys/validator.json does not exist (a node that follows without validating). */
  validatorKey: ValidatorKey | null;
  paths: HomePaths;
}

export interface InitOptions {
  chainId?: string;
  /** Replace an existing home: its config, genesis, validator and faucet keys, and data/. */
  force?: boolean;
  /** Genesis time, Unix ms; now (to the millisecond) by default. */
  time?: number;
  /** Source of the keys' randomness; the system's by default. */
  random?: RandomSource;
}

export interface InitResult {
  paths: HomePaths;
  chainId: string;
  validatorAddress: string;
  faucetAddress: string;
  genesis: Genesis;
}

/** The home to use: an explicit `--home`, else HALLMARK_HOME, else ~/.hallmark; always absolute. */
export function resolveHome(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = explicit ?? (env.HALLMARK_HOME ? env.HALLMARK_HOME : join(homedir(), '.hallmark'));
  // `--home=~/x` reaches us unexpanded (the shell only expands a leading ~ of a word).
  const expanded = chosen === '~' ? homedir() : chosen.startsWith('~/') ? join(homedir(), chosen.slice(2)) : chosen;
  return resolve(expanded);
}

export function homePaths(home: string): HomePaths {
  return {
    home,
    config: join(home, CONFIG_FILE),
    genesis: join(home, GENESIS_FILE),
    keys: keysDir(home),
    data: join(home, DATA_DIR),
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** A home is initialized once it has a genesis.json (config.toml is optional: defaults apply). */
export async function isInitialized(home: string): Promise<boolean> {
  return exists(homePaths(home).genesis);
}

/** Writes a new single-validator devnet home. Refuses to overwrite one unless `force`. */
export async function initHome(home: string, opts: InitOptions = {}): Promise<InitResult> {
  const paths = homePaths(home);
  const validatorPath = keyPath(home, VALIDATOR_KEY);
  const faucetPath = keyPath(home, FAUCET_KEY);
  const owned = [paths.config, paths.genesis, validatorPath, faucetPath];
  const present = [];
  for (const p of owned) if (await exists(p)) present.push(p);
  if (present.length > 0 && !opts.force) {
    throw new HomeError('home_exists', `${home} is already initialized (${present.length === owned.length ? 'genesis, config and keys exist' : `${present.join(', ')} exist`}); use --force to replace it and delete its data`);
  }
  const time = opts.time ?? Date.now();
  const validator = generateKeyPair(opts.random);
  const faucet = generateKeyPair(opts.random);
  // Checked before anything is written or removed: a bad chain id must not cost an existing home.
  const genesis = devnetGenesis({ validatorPublicKey: validator.publicKey, faucetAddress: addressOf(faucet.publicKey), time, chainId: opts.chainId });

  await mkdir(home, { recursive: true });
  if (opts.force) {
    // The old chain's blocks and state do not belong to the new genesis.
    await rm(paths.data, { recursive: true, force: true });
    for (const p of owned) await rm(p, { force: true });
  }
  await ensureKeysDir(home);
  await writeKeyFile(validatorPath, validator, VALIDATOR_KEY);
  await writeKeyFile(faucetPath, faucet, FAUCET_KEY);
  await mkdir(paths.data, { recursive: true, mode: 0o700 });
  writeFileDurably(paths.config, formatConfig(defaultConfig()));
  // Last: its presence is what marks the home as initialized.
  writeFileDurably(paths.genesis, formatGenesis(genesis));
  return {
    paths,
    chainId: genesis.chainId,
    validatorAddress: formatAddress(addressOf(validator.publicKey)),
    faucetAddress: formatAddress(addressOf(faucet.publicKey)),
    genesis,
  };
}

/** Reads and checks a home: config, genesis, and the validator key if there is one. */
export async function loadHome(home: string): Promise<LoadedHome> {
  const paths = homePaths(home);
  let genesisText: string;
  try {
    genesisText = await readFile(paths.genesis, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new HomeError('home_not_initialized', `${home} has no ${GENESIS_FILE}: run "hallmark init" (with --home ${home}) first`);
    }
    throw err;
  }
  const config = await loadConfig(home);
  let genesis: Genesis;
  try {
    genesis = parseGenesis(genesisText);
  } catch (err) {
    if (err instanceof GenesisError) {
      throw new HomeError('genesis_invalid', `${paths.genesis}: ${err.problems.join('; ')}`, err.problems);
    }
    throw err;
  }
  const validatorPath = keyPath(home, VALIDATOR_KEY);
  let validatorKey: ValidatorKey | null = null;
  if (await exists(validatorPath)) {
    const k = await readKeyFile(validatorPath, VALIDATOR_KEY);
    validatorKey = { secretKey: k.secretKey, publicKey: k.publicKey, address: k.address };
  }
  return { config, genesis, validatorKey, paths };
}
