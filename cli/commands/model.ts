/**
 * The model registry: fingerprint a model folder, register it, read and change its record, and
 * verify a folder against the chain with the light client (docs/cli.md, "model"). The work is in
 * cli/model-args.ts (arguments, fingerprinting, .hallmark.json), cli/model-show.ts (reading) and
 * cli/model-verify.ts (verify and its exit statuses).
 */
import { basename } from 'node:path';
import type { Command } from 'commander';
import { parseAddress } from '../../chain/address.ts';
import { toHex } from '../../chain/bytes.ts';
import type { ModelOp } from '../../chain/model-op.ts';
import { inTotoStatement } from '../../models/in-toto.ts';
import { encodeManifest } from '../../models/manifest.ts';
import { encodeTensors } from '../../models/tensors.ts';
import { parseSafeInt, resolveAddress } from '../args.ts';
import { CliError, type CommandContext } from '../context.ts';
import { receiptFailed, rows } from '../format.ts';
import {
  collect, evalDigest, fingerprintPath, isDirectory, isHash, parseCode, parseDataset, parseHash, parseParent, readNote, writeNote,
  type FingerprintCliOptions,
} from '../model-args.ts';
import { allAttestations, attestationLines, fullLineage, lineageTree, modelRows } from '../model-show.ts';
import { VERIFY_EXIT_HELP, verifyModel, type VerifyOptions } from '../model-verify.ts';
import { send, sendOptions, type SendOpts } from '../send.ts';

const MB = 1_000_000;
const GAS_HELP = 'exactly what the operation uses';

/** Fields shown before a sent operation's hash and status. */
type Extra = (hash: string, ok: boolean) => Record<string, unknown>;

interface RegisterOptions extends SendOpts, FingerprintCliOptions {
  name: string;
  version: string;
  parent: string[];
  dataset: string[];
  code?: string;
  eval?: string;
  license?: string;
  metadataUri?: string;
}

const fingerprintOptions = (c: Command) => c
  .option('--follow-symlinks', 'follow symbolic links instead of refusing them')
  .option('--threads <n>', 'hashing threads (default: one per core; 0 hashes on the main thread)');

export function addModelCommands(program: Command, ctx: CommandContext): void {
  const model = program.command('model').description('fingerprint, register and verify models (the model registry)');

  fingerprintOptions(model.command('fingerprint <path>')
    .description("a model folder's (or file's) fingerprint and tensor fingerprint; nothing is sent")
    .option('--format <format>', 'in-toto: print an in-toto Statement v1 instead')
    .option('--name <name>', 'the in-toto subject name (default: the folder name)'))
    .action(async (path: string, opts: FingerprintCliOptions & { format?: string; name?: string }, cmd: Command) => {
      if (opts.format !== undefined && opts.format !== 'in-toto') throw new CliError('usage', `--format: expected in-toto, got ${JSON.stringify(opts.format)}`);
      const fp = await fingerprintPath(ctx.io, path, opts);
      if (opts.format === 'in-toto') {
        ctx.io.stdout.write(`${JSON.stringify(inTotoStatement(opts.name ?? basename(fp.root), fp.fingerprint, fp.manifest, fp.tensorFingerprint), null, 2)}\n`);
        return;
      }
      const rate = fp.seconds > 0 ? fp.bytes / MB / fp.seconds : 0;
      ctx.print(cmd, {
        path: fp.root, fingerprint: toHex(fp.fingerprint), tensor_fingerprint: fp.tensorFingerprint === null ? null : toHex(fp.tensorFingerprint),
        format: fp.format, manifest: fp.manifest.map((e) => ({ path: e.path, size: e.size, algorithm: e.algorithm, digest: toHex(e.digest) })),
        tensors: fp.tensors?.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, digest: toHex(e.digest) })) ?? null,
        bytes: fp.bytes, seconds: fp.seconds, throughput_mb_s: rate,
      }, () => rows([
        ['fingerprint', toHex(fp.fingerprint)],
        ['tensor fingerprint', fp.tensorFingerprint === null ? 'none' : `${toHex(fp.tensorFingerprint)} (${fp.format})`],
        ['files', fp.manifest.length], ['bytes', fp.bytes], ['MB/s', rate.toFixed(1)],
      ]));
    });

  fingerprintOptions(sendOptions(model.command('register <path>')
    .description('fingerprint PATH and register it; writes PATH/.hallmark.json when PATH is a folder')
    .requiredOption('--name <name>', 'model name, e.g. org/model')
    .requiredOption('--version <version>', 'model version')
    .option('--parent <fp:relation>', 'a parent model and how this one derives from it (finetune, adapter, merge, quantized, distilled); repeatable', collect, [])
    .option('--dataset <digest=uri>', 'a training dataset: its sha256 and where it is; repeatable', collect, [])
    .option('--code <repo@commit>', 'the training code: repository and commit')
    .option('--eval <file>', 'an eval results file (its sha256 is recorded)')
    .option('--license <spdx>', 'SPDX license id or expression')
    .option('--metadata-uri <uri>', 'where the model card or metadata is'), GAS_HELP))
    .action(async (path: string, opts: RegisterOptions, cmd: Command) => {
      const parents = opts.parent.map(parseParent);
      const datasets = opts.dataset.map(parseDataset);
      const code = opts.code === undefined ? null : parseCode(opts.code);
      const evalHash = opts.eval === undefined ? null : await evalDigest(opts.eval);
      const fp = await fingerprintPath(ctx.io, path, opts);
      const op: ModelOp = {
        op: 'register', fingerprint: fp.fingerprint, tensorFingerprint: fp.tensorFingerprint, name: opts.name, version: opts.version,
        parents, datasets, code, evalDigest: evalHash, license: opts.license ?? null, metadataUri: opts.metadataUri ?? null,
        manifest: encodeManifest(fp.manifest), tensors: fp.tensors === null ? null : encodeTensors(fp.tensors),
      };
      const fps = { fingerprint: toHex(fp.fingerprint), tensor_fingerprint: fp.tensorFingerprint === null ? null : toHex(fp.tensorFingerprint) };
      await sendOp(cmd, opts, op, () => fps, async (chainId) => {
        if (!(await isDirectory(path))) return undefined;
        return writeNote(path, {
          chain_id: chainId, fingerprint: toHex(fp.fingerprint), tensor_fingerprint: fp.tensorFingerprint === null ? null : toHex(fp.tensorFingerprint),
          name: opts.name, version: opts.version,
        });
      });
    });

  model.command('show <fp-or-path>')
    .description('a registered model and its attestations; a PATH is fingerprinted (or its .hallmark.json read)')
    .option('--follow-symlinks', 'follow symbolic links when fingerprinting PATH')
    .action(async (target: string, opts: FingerprintCliOptions, cmd: Command) => {
      const fp = await fingerprintOf(target, opts);
      const rpc = await ctx.rpcOf(cmd);
      const r = await rpc.call('model_get', { fingerprint: fp });
      const attestations = await allAttestations(rpc, fp);
      ctx.print(cmd, { ...r, attestations }, () => modelRows(r.model) + attestationLines(attestations));
    });

  model.command('lineage <fp>')
    .description("a model's ancestors (default) or descendants, as an indented tree")
    .option('--descendants', 'walk to the models derived from it instead')
    .option('--depth <n>', 'levels to walk (default 16)')
    .action(async (fp: string, opts: { descendants?: boolean; depth?: string }, cmd: Command) => {
      const fingerprint = toHex(parseHash(fp, 'fingerprint'));
      const depth = opts.depth === undefined ? undefined : parseSafeInt(opts.depth, '--depth');
      if (depth === 0) throw new CliError('usage', '--depth: at least 1');
      const g = await fullLineage(await ctx.rpcOf(cmd), fingerprint, opts.descendants ? 'descendants' : 'ancestors', depth);
      ctx.print(cmd, g, () => lineageTree(g));
    });

  sendOptions(model.command('revoke <fp>')
    .description('revoke a model you own (final)')
    .requiredOption('--reason <text>', 'why'), GAS_HELP)
    .action((fp: string, opts: SendOpts & { reason: string }, cmd: Command) =>
      sendOp(cmd, opts, { op: 'revoke', fingerprint: parseHash(fp, 'fingerprint'), reason: opts.reason }));

  sendOptions(model.command('attest <fp>')
    .description('attest something about a model (anyone may)')
    .requiredOption('--kind <kind>', 'what is claimed, e.g. eval, scan, license-review')
    .requiredOption('--value <value>', 'the claim, e.g. mmlu=0.684')
    .option('--digest <hex>', 'sha256 of supporting evidence')
    .option('--uri <uri>', 'where the evidence is'), GAS_HELP)
    .action((fp: string, opts: SendOpts & { kind: string; value: string; digest?: string; uri?: string }, cmd: Command) =>
      sendOp(cmd, opts, {
        op: 'attest', fingerprint: parseHash(fp, 'fingerprint'), kind: opts.kind, value: opts.value,
        digest: opts.digest === undefined ? null : parseHash(opts.digest, '--digest'), uri: opts.uri ?? null,
      }, (hash, ok) => (ok ? { attestation_id: hash } : {})));

  sendOptions(model.command('revoke-attestation <id>')
    .description('revoke an attestation you made (ID: the hash of the transaction that made it)')
    .requiredOption('--reason <text>', 'why'), GAS_HELP)
    .action((id: string, opts: SendOpts & { reason: string }, cmd: Command) =>
      sendOp(cmd, opts, { op: 'revoke_attestation', id: parseHash(id, 'id'), reason: opts.reason }));

  sendOptions(model.command('transfer <fp> <to>')
    .description('give a model you own to another account (TO: an hm1… address or a key name)'), GAS_HELP)
    .action(async (fp: string, to: string, opts: SendOpts, cmd: Command) => {
      const fingerprint = parseHash(fp, 'fingerprint');
      const address = parseAddress(await resolveAddress(ctx.homeOf(cmd), to, 'to'));
      await sendOp(cmd, opts, { op: 'transfer', fingerprint, to: address });
    });

  sendOptions(model.command('supersede <fp>')
    .description('mark a model you own as superseded by another registered model')
    .requiredOption('--by <fp>', 'the model that supersedes it'), GAS_HELP)
    .action((fp: string, opts: SendOpts & { by: string }, cmd: Command) =>
      sendOp(cmd, opts, { op: 'supersede', fingerprint: parseHash(fp, 'fingerprint'), by: parseHash(opts.by, '--by') }));

  sendOptions(model.command('update <fp>')
    .description("change a model's license, metadata URI or eval digest; what is not given is kept")
    .option('--license <spdx>', 'SPDX license id or expression')
    .option('--metadata-uri <uri>', 'where the model card or metadata is')
    .option('--eval <file>', 'an eval results file (its sha256 is recorded)'), GAS_HELP)
    .action(async (fp: string, opts: SendOpts & { license?: string; metadataUri?: string; eval?: string }, cmd: Command) => {
      const fingerprint = parseHash(fp, 'fingerprint');
      if (opts.license === undefined && opts.metadataUri === undefined && opts.eval === undefined) {
        throw new CliError('usage', 'nothing to update: give --license, --metadata-uri or --eval');
      }
      const evalHash = opts.eval === undefined ? undefined : await evalDigest(opts.eval);
      const { model: current } = await (await ctx.rpcOf(cmd)).call('model_get', { fingerprint: toHex(fingerprint) });
      await sendOp(cmd, opts, {
        op: 'update', fingerprint, license: opts.license ?? current.license, metadataUri: opts.metadataUri ?? current.metadata_uri,
        evalDigest: evalHash ?? (current.eval_digest === null ? null : parseHash(current.eval_digest, 'eval_digest')),
      });
    });

  fingerprintOptions(model.command('verify <path>')
    .description('check that PATH is a registered, unrevoked model, proven against the validators you trust (not the node)')
    .option('--fingerprint <fp>', "the fingerprint PATH should have (default: PATH/.hallmark.json's, else PATH's own)")
    .option('--genesis <file>', "genesis file whose validators are trusted (default: the home's genesis.json)")
    .option('--trust-height <h>', 'trust the validators of this block instead (with --trust-hash)')
    .option('--trust-hash <hash>', 'the hash of the block at --trust-height')
    .option('--max-age <seconds>', 'refuse a signed state older than this (default 600)')
    .addHelpText('after', VERIFY_EXIT_HELP))
    .action((path: string, opts: VerifyOptions, cmd: Command) => verifyModel(ctx, cmd, path, opts));

  /** A 64-hex fingerprint, else PATH's .hallmark.json fingerprint, else PATH fingerprinted. */
  async function fingerprintOf(target: string, opts: FingerprintCliOptions): Promise<string> {
    if (isHash(target) && !(await isDirectory(target))) return toHex(parseHash(target, 'fingerprint'));
    const note = await readNote(target);
    if (note !== undefined) return toHex(parseHash(note.fingerprint, `${target}/.hallmark.json`));
    return toHex((await fingerprintPath(ctx.io, target, opts)).fingerprint);
  }

  /**
   * Signs and sends a model operation and prints the outcome; a refused operation (model_refused)
   * prints its reason and exits 1. `extra` adds fields before the hash (given the hash and whether
   * the operation committed ok); `after` runs once it is committed ok and may name a file it wrote.
   */
  async function sendOp(cmd: Command, opts: SendOpts, op: ModelOp, extra: Extra = () => ({}),
    after?: (chainId: string) => Promise<string | undefined>): Promise<void> {
    const { r } = await send(ctx, cmd, opts, { kind: 'model', op });
    const rc = r.receipt;
    const ok = rc?.code === 0;
    let note: string | undefined;
    if (ok && after !== undefined) note = await after((await (await ctx.rpcOf(cmd)).call('chain_status')).chain_id);
    const fields = extra(r.hash, ok);
    ctx.print(cmd, { ...fields, ...r, ...(note === undefined ? {} : { note_file: note }) }, () => rows([
      ...Object.entries(fields).map(([k, v]): [string, unknown] => [k.replaceAll('_', ' '), v]),
      ['hash', r.hash], ['status', rc === undefined ? r.status : rc.status], ['height', r.height], ['error', rc?.error], ['wrote', note],
    ]));
    const failure = receiptFailed(rc);
    if (failure) throw new CliError('tx_failed', `transaction ${r.hash} was committed but refused: ${failure}`);
  }
}
