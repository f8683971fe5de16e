/** Command-line arguments checked and turned into values, each mistake a CliError naming the option. */
import { readFile } from 'node:fs/promises';
import { AddressError, formatAddress, parseAddress } from '../chain/address.ts';
import { U64_MAX } from '../chain/codec.ts';
import { AbiError, encodeValues, parseCliValue } from '../vm/abi.ts';
import { encodeProof, encodeSignals, ZkError } from '../zk/groth16.ts';
import { CliError } from './context.ts';
import { hasKey, KEY_NAME, showKey } from './keystore.ts';

export function parseU64(text: string, what: string): bigint {
  if (!/^(?:0|[1-9][0-9]*)$/.test(text)) throw new CliError('usage', `${what}: expected a whole number of base units, got ${JSON.stringify(text)}`);
  const v = BigInt(text);
  if (v > U64_MAX) throw new CliError('usage', `${what}: exceeds 2^64-1`);
  return v;
}

export function parseSafeInt(text: string, what: string): number {
  if (!/^(?:0|[1-9][0-9]*)$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new CliError('usage', `${what}: expected a non-negative whole number, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** An hm1… address, or the name of a key in the home's key store. */
export async function resolveAddress(home: string, text: string, what: string): Promise<string> {
  if (text.toLowerCase().startsWith('hm1')) {
    try {
      return formatAddress(parseAddress(text));
    } catch (err) {
      if (err instanceof AddressError) throw new CliError('usage', `${what}: ${err.message}`);
      throw err;
    }
  }
  if (KEY_NAME.test(text) && await hasKey(home, text)) return (await showKey(home, text)).address;
  throw new CliError('usage', `${what}: ${JSON.stringify(text)} is neither an hm1… address nor a key in ${home}/keys (hallmark keys list shows them)`);
}

/** A JSON file, or a usage error naming it. */
export async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError('usage', `cannot read ${what} ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError('usage', `${what} ${file} is not JSON: ${(err as Error).message}`);
  }
}

/** `proof:FILE` / `signals:FILE`: a snarkjs proof.json or public.json as the bytes a contract gets (docs/zk.md). */
async function zkArg(a: string): Promise<string> {
  const [kind, file] = [a.slice(0, a.indexOf(':')), a.slice(a.indexOf(':') + 1)];
  try {
    const json = await readJson(file, kind === 'proof' ? 'proof' : 'public signals');
    return `bytes:${Buffer.from(kind === 'proof' ? encodeProof(json) : encodeSignals(json)).toString('hex')}`;
  } catch (err) {
    if (err instanceof ZkError) throw new CliError('usage', `${a}: ${err.message}`);
    throw err;
  }
}

/**
 * CLI arguments in the contract ABI; `addr:NAME` names a key in the key store, `proof:FILE` and
 * `signals:FILE` read snarkjs JSON into the bytes groth16_verify takes.
 */
export async function abiArgs(home: string, args: readonly string[]): Promise<Uint8Array> {
  const resolved: string[] = [];
  for (const a of args) {
    if (a.startsWith('proof:') || a.startsWith('signals:')) resolved.push(await zkArg(a));
    else resolved.push(a.startsWith('addr:') && !a.slice(5).toLowerCase().startsWith('hm1') ? `addr:${await resolveAddress(home, a.slice(5), a)}` : a);
  }
  try {
    return encodeValues(resolved.map(parseCliValue));
  } catch (err) {
    if (err instanceof AbiError) throw new CliError('usage', err.message);
    throw err;
  }
}
