/**
 * `hallmark model verify PATH`: recompute PATH's fingerprint, prove what the chain says about the
 * expected fingerprint with the light client (models/light-client.ts) against a trust root the user
 * holds (a genesis file, or a block by height and hash), and compare the files with the proven
 * manifest. The RPC node is trusted for nothing; its answers reach proveModel through the
 * LightClientSource below. The verdict is the exit status (VERIFY_EXIT).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { formatAddress, parseAddress } from '../chain/address.ts';
import { equalBytes, fromHex, toHex } from '../chain/bytes.ts';
import type { Header } from '../chain/block.ts';
import { GenesisError, parseGenesis } from '../genesis/schema.ts';
import { compareModel, type ModelComparison, type ModelFingerprint } from '../models/fingerprint.ts';
import { ProofError, proveModel, type LightClientSource, type ProvenModel, type TrustRoot } from '../models/light-client.ts';
import { RpcClientError, type RpcClient } from '../rpc/client.ts';
import type { RpcResult } from '../rpc/methods.ts';
import { modelJson } from '../rpc/model-json.ts';
import { parseSafeInt } from './args.ts';
import { CliError, ExitStatus, type CommandContext } from './context.ts';
import { rows } from './format.ts';
import { homePaths } from './home.ts';
import { fingerprintPath, parseHash, readNote, type FingerprintCliOptions } from './model-args.ts';

/** The exit status of `model verify` for each verdict (1 stays a usage or setup mistake). */
export const VERIFY_EXIT = Object.freeze({
  verified: 0,
  files_differ: 2,
  not_registered: 3,
  revoked: 4,
  could_not_prove: 5,
});
export type VerifyVerdict = keyof typeof VERIFY_EXIT;

export const VERIFY_EXIT_HELP = `
Exit status:
  0  verified: the files are the registered model, proven against the trusted validators
  1  a usage mistake (bad option, unreadable PATH or genesis file)
  2  the files differ from the proven manifest (each missing, extra or changed file is named)
  3  the fingerprint is proven not to be registered
  4  the model is revoked (file differences are still listed)
  5  could not prove: the node's answer did not check out, was stale, or the node was unreachable
`;

export interface VerifyOptions extends FingerprintCliOptions {
  fingerprint?: string;
  genesis?: string;
  trustHeight?: string;
  trustHash?: string;
  maxAge?: string;
}

/** A chain_getBlock header, back into the chain/block.ts Header it was encoded from. */
function headerOf(b: RpcResult<'chain_getBlock'>): Header {
  const j = b.header;
  return {
    protocolVersion: j.protocol_version, chainId: j.chain_id, height: j.height, time: Date.parse(j.time),
    lastBlockHash: fromHex(j.last_block_hash), lastCommitHash: fromHex(j.last_commit_hash), txsHash: fromHex(j.txs_hash),
    stateRoot: fromHex(j.state_root), lastResultsHash: fromHex(j.last_results_hash), validatorsHash: fromHex(j.validators_hash),
    proposer: parseAddress(j.proposer), evidenceHash: fromHex(j.evidence_hash),
  };
}

/** What the light client asks, answered by a node over JSON-RPC (and believed only once proven). */
export function rpcLightClientSource(rpc: RpcClient): LightClientSource {
  return {
    modelProof: (fp) => rpc.call('model_getProof', { fingerprint: toHex(fp) }),
    header: async (height) => headerOf(await rpc.call('chain_getBlock', { height })),
    validators: async () => (await rpc.call('consensus_validators')).validators.map((v) => ({
      address: parseAddress(v.address), publicKey: fromHex(v.public_key), power: v.power,
    })),
  };
}

/** --trust-height/--trust-hash, else the genesis file (--genesis, else the home's). */
async function trustRootOf(ctx: CommandContext, cmd: Command, opts: VerifyOptions): Promise<{ trust: TrustRoot; label: string }> {
  if ((opts.trustHeight === undefined) !== (opts.trustHash === undefined)) {
    throw new CliError('usage', '--trust-height and --trust-hash go together: give both or neither');
  }
  if (opts.trustHeight !== undefined) {
    const height = parseSafeInt(opts.trustHeight, '--trust-height');
    if (height === 0) throw new CliError('usage', '--trust-height: blocks start at 1');
    const hash = parseHash(opts.trustHash!, '--trust-hash');
    return { trust: { kind: 'block', height, hash }, label: `the validators of trusted block ${height} (${toHex(hash)})` };
  }
  const file = opts.genesis ?? homePaths(ctx.homeOf(cmd)).genesis;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError('usage', `cannot read the genesis file ${file}: ${(err as Error).message} (give --genesis FILE, or --trust-height and --trust-hash)`);
  }
  try {
    const g = parseGenesis(text);
    const validators = g.validators.map((v) => ({ address: v.address, publicKey: v.publicKey, power: v.power }));
    return { trust: { kind: 'genesis', chainId: g.chainId, validators }, label: `the ${validators.length} validator(s) of ${file} (chain ${g.chainId})` };
  } catch (err) {
    if (err instanceof GenesisError) throw new CliError('usage', `${file}: ${err.problems.join('; ')}`);
    throw err;
  }
}

function differenceRows(c: ModelComparison): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const p of c.files.missing) out.push(['missing', p]);
  for (const p of c.files.extra) out.push(['extra', p]);
  for (const p of c.files.changed) out.push(['changed', p.path]);
  for (const n of c.tensors?.missing ?? []) out.push(['missing tensor', n]);
  for (const n of c.tensors?.extra ?? []) out.push(['extra tensor', n]);
  for (const n of c.tensors?.changed ?? []) out.push(['changed tensor', n.name]);
  return out;
}

function differencesJson(c: ModelComparison) {
  return {
    files: { missing: c.files.missing, extra: c.files.extra, changed: c.files.changed.map((x) => x.path) },
    tensors: c.tensors === null ? null : { missing: c.tensors.missing, extra: c.tensors.extra, changed: c.tensors.changed.map((x) => x.name) },
  };
}

/** Proves the record; any failure, the node's unreachability included, is a reason not to believe it. */
async function prove(ctx: CommandContext, cmd: Command, fp: Uint8Array, trust: TrustRoot, maxAgeMs: number | undefined): Promise<ProvenModel | string> {
  try {
    const rpc = await ctx.rpcOf(cmd);
    return await proveModel(rpcLightClientSource(rpc), fp, trust, maxAgeMs === undefined ? {} : { maxAgeMs });
  } catch (err) {
    if (err instanceof ProofError || err instanceof RpcClientError) return err.message;
    throw err;
  }
}

/** Runs `model verify`; prints the verdict and throws ExitStatus unless verified. */
export async function verifyModel(ctx: CommandContext, cmd: Command, path: string, opts: VerifyOptions): Promise<void> {
  const given = opts.fingerprint === undefined ? undefined : parseHash(opts.fingerprint, '--fingerprint');
  const maxAgeMs = opts.maxAge === undefined ? undefined : parseSafeInt(opts.maxAge, '--max-age') * 1000;
  const { trust, label } = await trustRootOf(ctx, cmd, opts);
  const note = given === undefined ? await readNote(path) : undefined;
  const local: ModelFingerprint = await fingerprintPath(ctx.io, path, opts);
  const expected = given ?? (note === undefined ? local.fingerprint : fromHex(note.fingerprint.replace(/^0x/, '').toLowerCase()));
  const source = given !== undefined ? '--fingerprint' : note !== undefined ? `${path}/.hallmark.json` : 'the files';
  const base = { path: local.root, expected_fingerprint: toHex(expected), expected_from: source, local_fingerprint: toHex(local.fingerprint) };
  const head: [string, unknown][] = [['path', local.root], ['fingerprint', `${toHex(expected)} (from ${source})`]];
  if (!equalBytes(expected, local.fingerprint)) head.push(['local', toHex(local.fingerprint)]);

  const proven = await prove(ctx, cmd, expected, trust, maxAgeMs);
  const finish = (verdict: VerifyVerdict, json: Record<string, unknown>, text: [string, unknown][], line: string): void => {
    ctx.print(cmd, { result: verdict, exit_code: VERIFY_EXIT[verdict], ...base, ...json }, () => rows([...head, ...text]) + `${line}\n`);
    if (VERIFY_EXIT[verdict] !== 0) throw new ExitStatus(VERIFY_EXIT[verdict], line);
  };
  if (typeof proven === 'string') return finish('could_not_prove', { reason: proven }, [], `could not prove: ${proven}`);
  const at = { chain_id: proven.chainId, proven_height: proven.height, header_hash: toHex(proven.headerHash) };
  const atRows: [string, unknown][] = [['chain', proven.chainId], ['proven at', `height ${proven.height} (header ${toHex(proven.headerHash)})`]];
  if (note !== undefined && note.chain_id !== proven.chainId) atRows.push(['note', `${path}/.hallmark.json names chain ${note.chain_id}`]);
  if (proven.record === undefined || proven.manifest === undefined) {
    return finish('not_registered', at, atRows, `not registered: no model with fingerprint ${toHex(expected)} on chain ${proven.chainId} (absence proven at height ${proven.height})`);
  }
  const record = proven.record;
  let comparison: ModelComparison;
  try {
    comparison = compareModel(local, proven.manifest);
  } catch (err) {
    return finish('could_not_prove', { ...at, reason: (err as Error).message }, atRows, `could not prove: ${(err as Error).message}`);
  }
  const differ = !comparison.same || !equalBytes(local.fingerprint, expected);
  let attestations: number | null = null;
  try {
    attestations = (await (await ctx.rpcOf(cmd)).call('model_attestations', { fingerprint: toHex(expected), limit: 1 })).total;
  } catch {
    // Informative only: an attestation count the node will not give changes no verdict.
  }
  const json = { ...at, model: modelJson(record), differences: differencesJson(comparison), attestations };
  const modelRows: [string, unknown][] = [
    ...atRows, ['model', `${record.name} ${record.version}`], ['owner', formatAddress(record.owner)], ['status', record.status],
    ['superseded by', record.supersededBy === null ? undefined : toHex(record.supersededBy)],
    ['attestations', attestations === null ? undefined : `${attestations} (unverified: informative only)`],
    ...differenceRows(comparison),
  ];
  if (record.status === 'revoked') return finish('revoked', json, modelRows, `revoked: ${record.revokeReason ?? '(no reason given)'}`);
  if (differ) {
    const n = differenceRows(comparison).filter(([k]) => !k.includes('tensor')).length;
    return finish('files_differ', json, modelRows, `files differ: ${n} file(s) of ${local.root} are not as registered in ${record.name} ${record.version}`);
  }
  const superseded = record.status === 'superseded' && record.supersededBy !== null ? ` (superseded by ${toHex(record.supersededBy)})` : '';
  finish('verified', json, modelRows, `verified: ${record.name} ${record.version}${superseded}, registered at height ${record.registeredHeight} by ${formatAddress(record.owner)}, ` +
    `proven at height ${proven.height} against ${label}`);
}
