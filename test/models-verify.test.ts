/**
 * `hallmark model verify` (run in-process through runCli) against a lying JSON-RPC proxy in front of
 * an honest node: the proxy forwards every request and rewrites model_getProof's answers. Each lie
 * — another record's value, swapped or corrupted proof bytes, a forged header, a complete forgery
 * (a fake state, a header carrying its root, a commit signed by keys that are not validators or by
 * nobody), a replayed stale answer — must end in exit 5 with the reason; the honest path exits 0,
 * from the genesis file or from a trusted block, and a wrong trusted hash exits 5.
 */
import t, { type Test } from 'tap';
import { createServer, type IncomingMessage } from 'node:http';
import { writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { addressOf } from '../chain/address.ts';
import { blockHash, decodeHeader, encodeHeader } from '../chain/block.ts';
import { fromHex, toHex } from '../chain/bytes.ts';
import { generateKeyPair, sign, type KeyPair } from '../chain/keys.ts';
import { signTransaction } from '../chain/tx.ts';
import { decodeCommit, encodeCommit, PRECOMMIT, voteSignBytes } from '../chain/vote.ts';
import { formatGenesis } from '../genesis/schema.ts';
import { runCli } from '../cli/main.ts';
import { fingerprintModel } from '../models/fingerprint.ts';
import { encodeManifest } from '../models/manifest.ts';
import { encodeModelRecord, encodeStoredManifest, manifestKey, recordKey } from '../models/record.ts';
import { encodeTensors } from '../models/tensors.ts';
import { encodeStateProof, StateTree } from '../state/tree.ts';
import type { ModelProofBundle } from '../models/light-client.ts';
import { liveDir } from './fixtures/dirs.ts';
import { FAUCET, fastGenesis, rpc, startTestNode, waitForHeight } from './fixtures/node.ts';
import { freePort } from './fixtures/processes.ts';
import { safetensorsBytes, writeFile } from './fixtures/safetensors.ts';
import { openDb, tempDir } from './fixtures/state-reference.ts';

type Rewrite = (answer: ModelProofBundle) => ModelProofBundle | Promise<ModelProofBundle>;

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A JSON-RPC proxy that passes everything through, except model_getProof results go through `rewrite`. */
async function lyingProxy(t: Test, upstream: string) {
  const state: { rewrite: Rewrite | null; last: ModelProofBundle | null } = { rewrite: null, last: null };
  const server = createServer(async (req, res) => {
    const text = await body(req);
    const answer = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
    const json = await answer.json() as { result?: ModelProofBundle };
    if (JSON.parse(text).method === 'model_getProof' && json.result !== undefined) {
      state.last = json.result;
      if (state.rewrite !== null) json.result = await state.rewrite(structuredClone(json.result));
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(json));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state };
}

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: {} });
  return { code, stdout, stderr };
}

const f32 = (...xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);

function writeModel(dir: string, label: string): void {
  writeFile(dir, 'model.safetensors', safetensorsBytes([{ name: 'w', dtype: 'F32', shape: [2], data: f32(1, 2) }]));
  writeFile(dir, 'config.json', JSON.stringify({ label }));
}

/** Flips one hex digit in the middle of `hex`. */
const corrupt = (hex: string) => {
  const i = hex.length >> 1;
  return hex.slice(0, i) + (hex[i] === '0' ? '1' : '0') + hex.slice(i + 1);
};

/** A commit for `hash` at `height` signed by `keys` (who need not be validators). */
function commitBy(keys: KeyPair[], chainId: string, height: number, hash: Uint8Array): string {
  const signatures = keys.map((k) => ({
    validator: addressOf(k.publicKey),
    signature: sign(k.secretKey, voteSignBytes(chainId, { type: PRECOMMIT, height, round: 0, blockHash: hash })),
  }));
  return toHex(encodeCommit({ height, round: 0, blockHash: hash, signatures }));
}

t.test('model verify believes only what the trusted validators signed', async (t) => {
  const dir = liveDir(t);
  const running = await startTestNode(join(dir, 'node'));
  t.teardown(() => running.close());
  const node = running.rpcUrl;
  const genesis = fastGenesis();
  const genesisFile = join(dir, 'genesis.json');
  writeFileSync(genesisFile, formatGenesis(genesis));
  const chainId = genesis.chainId;

  // Two registered models: A is verified, B lends its record to a lie.
  const models = [join(dir, 'a'), join(dir, 'b')];
  const fps: string[] = [];
  let nonce = 0;
  for (const [i, path] of models.entries()) {
    writeModel(path, `m${i}`);
    const fp = await fingerprintModel(path, { threads: 0 });
    const op = {
      op: 'register' as const, fingerprint: fp.fingerprint, tensorFingerprint: fp.tensorFingerprint, name: `org/m${i}`, version: '1',
      parents: [], datasets: [], code: null, evalDigest: null, license: null, metadataUri: null,
      manifest: encodeManifest(fp.manifest), tensors: fp.tensors === null ? null : encodeTensors(fp.tensors),
    };
    const stx = signTransaction({ chainId, sender: FAUCET.publicKey, nonce: nonce++, fee: 50_000_000n, gasLimit: 50_000_000, payload: { kind: 'model', op } }, FAUCET.secretKey);
    const r = await rpc(node, 'tx_broadcast', { tx: toHex(stx.bytes), wait: 'committed' });
    t.equal(r.receipt.status, 'ok');
    fps.push(toHex(fp.fingerprint));
    await waitForHeight(node, r.height + 2);
  }
  const [modelA, modelB] = models as [string, string];
  const proxy = await lyingProxy(t, node);
  const verify = (...args: string[]) => cli(['--rpc', proxy.url, 'model', 'verify', modelA, '--threads', '0', '--genesis', genesisFile, ...args]);
  const lie = async (what: string, rewrite: Rewrite, reason: RegExp, args: string[] = []) => {
    proxy.state.rewrite = rewrite;
    const r = await verify(...args);
    proxy.state.rewrite = null;
    t.equal(r.code, 5, `${what}: exit 5\n${r.stdout}${r.stderr}`);
    t.match(r.stdout, reason, `${what}: the reason`);
  };

  const honest = await verify();
  t.equal(honest.code, 0, honest.stdout + honest.stderr);
  t.match(honest.stdout, /^verified: org\/m0 1, registered at height \d+ by hm1\S+, proven at height \d+ against the 1 validator\(s\) of /m);
  t.equal((await cli(['--rpc', proxy.url, 'model', 'verify', modelB, '--threads', '0', '--genesis', genesisFile])).code, 0, 'B verifies too');

  // (a) Another record's encoding as the value.
  await lie('a record replaced by another', async (a) => {
    const b = await rpc(node, 'model_getProof', { fingerprint: fps[1], height: a.height });
    return { ...a, record: { ...a.record, value: b.record.value } };
  }, /^could not prove: the record value is not proven by the signed state root/m);

  // (b) The record's proof bytes swapped for the manifest's, or corrupted.
  await lie('the manifest proof for the record', (a) => ({ ...a, record: { ...a.record, proof: a.manifest.proof } }),
    /^could not prove: the record value is not proven/m);
  await lie('a corrupted record proof', (a) => ({ ...a, record: { ...a.record, proof: corrupt(a.record.proof) } }),
    /^could not prove: the record (value is not proven|proof the server sent does not decode)/m);
  await lie('a corrupted manifest value', (a) => ({ ...a, manifest: { ...a.manifest, value: corrupt(a.manifest.value!) } }),
    /^could not prove: the manifest value is not proven/m);
  await lie('the record dropped (a claimed absence)', (a) => ({ ...a, record: { ...a.record, value: null } }),
    /^could not prove: the record absence is not proven/m);

  // (c) A forged header (another state root) with the real commit.
  await lie('a forged header', (a) => {
    const header = decodeHeader(fromHex(a.header));
    header.stateRoot = new Uint8Array(32).fill(7);
    return { ...a, header: toHex(encodeHeader(header)) };
  }, /^could not prove: the commit does not sign the header/m);

  // (d) A complete forgery: a fake state holding a fake record, a header carrying its root, and a
  // commit by keys that are not validators, or with its signature removed.
  const stateDir = await tempDir('forged-state');
  const db = openDb(stateDir);
  t.teardown(async () => {
    await db.close();
    await rm(stateDir, { recursive: true, force: true });
  });
  const tree = await StateTree.open(db);
  const local = await fingerprintModel(modelA, { threads: 0 });
  const attacker = generateKeyPair();
  const fake = encodeModelRecord({
    fingerprint: local.fingerprint, tensorFingerprint: local.tensorFingerprint, name: 'org/m0', version: '1', parents: [], datasets: [],
    code: null, evalDigest: null, license: null, metadataUri: null, owner: addressOf(attacker.publicKey), registeredHeight: 1,
    registeredTime: Date.now(), updatedHeight: 1, status: 'active', revokeReason: null, supersededBy: null,
  });
  const storedManifest = encodeStoredManifest(encodeManifest(local.manifest), local.tensors === null ? null : encodeTensors(local.tensors));
  const { root: fakeRoot } = await tree.commit(0, [[recordKey(local.fingerprint), fake], [manifestKey(local.fingerprint), storedManifest]]);
  const forged = async (a: ModelProofBundle, signers: KeyPair[]): Promise<ModelProofBundle> => {
    const header = decodeHeader(fromHex(a.header));
    header.stateRoot = fakeRoot;
    const [record, manifest] = await Promise.all([tree.prove(recordKey(local.fingerprint), 0), tree.prove(manifestKey(local.fingerprint), 0)]);
    return {
      ...a, root: toHex(fakeRoot),
      record: { ...a.record, value: toHex(fake), proof: toHex(encodeStateProof(record.proof)) },
      manifest: { ...a.manifest, value: toHex(storedManifest), proof: toHex(encodeStateProof(manifest.proof)) },
      header: toHex(encodeHeader(header)), commit: commitBy(signers, chainId, header.height, blockHash(header)),
    };
  };
  await lie('a forgery signed by keys that are not validators', (a) => forged(a, [attacker, generateKeyPair()]), /^could not prove: the commit does not sign the header/m);
  await lie('a forgery with no signatures', (a) => forged(a, []), /^could not prove: the commit does not sign the header/m);
  await lie('the real commit with its signature removed', (a) => {
    const commit = decodeCommit(fromHex(a.commit));
    return { ...a, commit: toHex(encodeCommit({ ...commit, signatures: [] })) };
  }, /^could not prove: the commit does not sign the header/m);

  // (e) A stale answer replayed: validly signed, but older than --max-age.
  t.equal((await verify('--max-age', '1')).code, 0, 'a fresh answer passes --max-age 1');
  const old = proxy.state.last!;
  await new Promise((r) => setTimeout(r, 1500));
  await lie('a replayed stale answer', () => old, /^could not prove: the newest signed header the server sent \(height \d+\) is \d+ s old/m, ['--max-age', '1']);

  // A trusted block instead of the genesis file.
  const block = await rpc(node, 'chain_getBlock', { height: 2 });
  const trusted = await verify('--trust-height', '2', '--trust-hash', block.hash);
  t.equal(trusted.code, 0, trusted.stdout + trusted.stderr);
  t.match(trusted.stdout, new RegExp(`against the validators of trusted block 2 \\(${block.hash}\\)`));
  const wrong = await verify('--trust-height', '2', '--trust-hash', corrupt(block.hash));
  t.equal(wrong.code, 5, wrong.stdout);
  t.match(wrong.stdout, /^could not prove: the header the server gave for height 2 hashes to/m);
  const json = JSON.parse((await verify('--trust-height', '2', '--trust-hash', corrupt(block.hash), '--json')).stdout);
  t.match(json, { result: 'could_not_prove', exit_code: 5, reason: /hashes to/ });

  // No node at all is "could not prove" too.
  const gone = await cli(['--rpc', `http://127.0.0.1:${await freePort()}`, 'model', 'verify', modelA, '--threads', '0', '--genesis', genesisFile]);
  t.equal(gone.code, 5, gone.stdout + gone.stderr);
  t.match(gone.stdout, /^could not prove: no node at/m);
});
