/** Groth16 verification keys and proofs: register-key, key, verify, hash (docs/zk.md). */
import type { Command } from 'commander';
import { fromHex, toHex } from '../../chain/bytes.ts';
import type { AttachedProof } from '../../chain/tx.ts';
import { bn254, encodeKey, encodeProof, encodeSignals, keyHash, ZkError } from '../../zk/groth16.ts';
import { readJson } from '../args.ts';
import { CliError, ExitStatus, type CommandContext } from '../context.ts';
import { receiptFailed, rows } from '../format.ts';
import { send, sendOptions, type SendOpts } from '../send.ts';

/** A snarkjs verification_key.json read by the rule, as its canonical bytes and hash. */
async function readKey(file: string): Promise<{ key: Uint8Array; hash: Uint8Array }> {
  const json = await readJson(file, 'verification key');
  try {
    const key = encodeKey(await bn254(), json);
    return { key, hash: keyHash(key) };
  } catch (err) {
    if (err instanceof ZkError) throw new CliError('usage', `${file}: ${err.message}`);
    throw err;
  }
}

/** `--proof KEY_HASH,PROOF.json,PUBLIC.json`: a proof a call carries, in its binary form. */
export async function readProofOption(v: string): Promise<AttachedProof> {
  const parts = v.split(',');
  if (parts.length !== 3 || !/^[0-9a-f]{64}$/.test(parts[0]!)) throw new CliError('usage', `--proof ${v}: expected KEY_HASH,PROOF.json,PUBLIC.json with a 64-digit hex key hash`);
  const [hash, proofFile, publicFile] = parts as [string, string, string];
  try {
    return { keyHash: fromHex(hash), proof: encodeProof(await readJson(proofFile, 'proof')), signals: encodeSignals(await readJson(publicFile, 'public signals')) };
  } catch (err) {
    if (err instanceof ZkError) throw new CliError('usage', `--proof ${v}: ${err.message}`);
    throw err;
  }
}

/** `zk register-key`, `key`, `verify` and `hash`. */
export function addZkCommands(program: Command, ctx: CommandContext): void {
  const zk = program.command('zk').description('Groth16 verification keys and proofs (docs/zk.md)');
  zk.command('hash <vk.json>')
    .description("a verification key's hash, computed here (what register-key registers it under)")
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const { key, hash } = await readKey(file);
      ctx.print(cmd, { key_hash: toHex(hash), bytes: key.length }, () => rows([['key hash', toHex(hash)], ['bytes', key.length]]));
    });
  sendOptions(zk.command('register-key <vk.json>')
    .description('register a snarkjs verification key on chain (read by the validity rule first); prints its hash'), 'what it uses')
    .action(async (file: string, opts: SendOpts, cmd: Command) => {
      const { key, hash } = await readKey(file);
      const { r } = await send(ctx, cmd, opts, { kind: 'zk_key', key });
      const rc = r.receipt;
      ctx.print(cmd, { ...r, key_hash: toHex(hash) }, () => rows([
        ['key hash', toHex(hash)], ['hash', r.hash], ['status', rc === undefined ? r.status : rc.status], ['height', r.height],
        ['gas used', rc?.gas_used], ['error', rc?.error],
      ]));
      const failure = receiptFailed(rc);
      if (failure) throw new CliError('tx_failed', `transaction ${r.hash} was committed but failed: ${failure}`);
    });
  zk.command('key <key-hash>')
    .description('a registered verification key: its registrant, height and public signal count; --json for the key itself')
    .action(async (hash: string, _opts: unknown, cmd: Command) => {
      const r = await (await ctx.rpcOf(cmd)).call('zk_getVerifyingKey', { key_hash: hash });
      ctx.print(cmd, r, () => rows([
        ['key hash', r.key_hash], ['public signals', r.n_public], ['registrant', r.registrant], ['registered at', r.registered_at], ['state key', r.state_key],
      ]));
    });
  zk.command('verify <proof.json> <public.json>')
    .description('check a snarkjs proof and its public signals against a registered key, by the chain\'s rule (read-only); exits 2 if it is not valid')
    .requiredOption('--key <key-hash>', "the registered key's hash")
    .action(async (proofFile: string, publicFile: string, opts: { key: string }, cmd: Command) => {
      const proof = await readJson(proofFile, 'proof');
      const signals = await readJson(publicFile, 'public signals');
      if (typeof proof !== 'object' || proof === null || Array.isArray(proof)) throw new CliError('usage', `${proofFile} is not a snarkjs proof (a JSON object)`);
      if (!Array.isArray(signals)) throw new CliError('usage', `${publicFile} is not a snarkjs public.json (a JSON array)`);
      const r = await (await ctx.rpcOf(cmd)).call('zk_verify', { key_hash: opts.key, proof: proof as Record<string, unknown>, public_signals: signals });
      ctx.print(cmd, r, () => rows([['valid', r.valid], ['code', r.code ?? undefined], ['reason', r.message ?? undefined], ['height', r.height]]));
      if (!r.valid) throw new ExitStatus(2, `the proof is not valid: ${r.code}: ${r.message}`);
    });
}
