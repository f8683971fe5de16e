/**
 * The model registry on a real single-validator node: every operation through tx_broadcast and
 * its rules (duplicate, unknown parent, owner-only, final revocation, attestations only their
 * author revokes, transfer, supersede), the model_* RPC methods with their pages, every answer
 * checked against state_getProof at the height it gives, a light-client proof of a record, and a
 * replay of the chain's blocks into a second executor reaching the same state root.
 */
import t, { type Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressOf, formatAddress } from '../chain/address.ts';
import { fromHex, toHex } from '../chain/bytes.ts';
import { sha256 } from '../chain/hash.ts';
import { generateKeyPair, type KeyPair } from '../chain/keys.ts';
import type { ModelOp } from '../chain/model-op.ts';
import { signTransaction, type Payload } from '../chain/tx.ts';
import { toGenesisState } from '../genesis/genesis.ts';
import { decodeAttestation, decodeModelRecord } from '../models/record.ts';
import { proveModel } from '../models/light-client.ts';
import { attestationJson, modelJson } from '../rpc/model-json.ts';
import { decodeBlock } from '../chain/block.ts';
import { decodeStateProof, verifyStateProof } from '../state/proof.ts';
import { liveDir } from './fixtures/dirs.ts';
import { fakeModel, registerOp } from './fixtures/models.ts';
import { openChain } from './fixtures/chain.ts';
import { FAUCET, fastGenesis, rpc, startTestNode, VALIDATOR, waitForHeight } from './fixtures/node.ts';

async function registryNode(t: Test) {
  const running = await startTestNode(liveDir(t));
  t.teardown(() => running.close());
  const url = running.rpcUrl;
  const { chain_id: chainId } = await rpc(url, 'chain_status');
  const nonces = new Map<string, number>();
  const send = async (key: KeyPair, payload: Payload, gasLimit = 50_000_000) => {
    const who = toHex(key.publicKey);
    const nonce = nonces.get(who) ?? (await rpc(url, 'state_getAccount', { address: formatAddress(addressOf(key.publicKey)) })).nonce;
    nonces.set(who, nonce + 1);
    const stx = signTransaction({ chainId, sender: key.publicKey, nonce, fee: BigInt(gasLimit), gasLimit, payload }, key.secretKey);
    return rpc(url, 'tx_broadcast', { tx: toHex(stx.bytes), wait: 'committed' });
  };
  const model = (key: KeyPair, op: ModelOp) => send(key, { kind: 'model', op });
  const other = generateKeyPair();
  await send(FAUCET, { kind: 'transfer', to: addressOf(other.publicKey), amount: 10n ** 12n });
  return { running, url, chainId, send, model, other };
}

/** Every record (or attestation) in an answer is what state_getProof proves at the answer's height. */
async function provable(t: Test, url: string, height: number, items: { key: string }[], decode: (value: Uint8Array) => unknown = (v) => modelJson(decodeModelRecord(v))) {
  for (const m of items) {
    const p = await rpc(url, 'state_getProof', { key: m.key, height });
    t.ok(verifyStateProof(fromHex(p.root), fromHex(m.key), fromHex(p.value), decodeStateProof(fromHex(p.proof))), 'proof verifies');
    t.same(decode(fromHex(p.value)), m, `${m.key.slice(0, 10)} is the proven value`);
  }
}

const refused = (r: { receipt: { status: string; error?: string } }) => `${r.receipt.status}: ${r.receipt.error ?? ''}`;

t.test('register, lineage rules, owner-only operations, attestations, transfer, supersede and revoke', async (t) => {
  const { url, model, other } = await registryNode(t);
  const faucet = formatAddress(addressOf(FAUCET.publicKey));
  const base = registerOp('base', { ...fakeModel('base', { tensors: true }), datasets: [{ digest: sha256(new Uint8Array([1])), uri: 'hf://datasets/x' }], code: { repository: 'github.com/org/train', commit: 'abc1234' } });
  const r1 = await model(FAUCET, base);
  t.equal(r1.receipt.status, 'ok', refused(r1));
  t.equal(r1.receipt.events[0].type, 'model_register');
  const got = await rpc(url, 'model_get', { fingerprint: toHex(base.fingerprint) });
  t.match(got.model, { name: 'org/base', version: '1.0', owner: faucet, status: 'active', license: 'Apache-2.0', training_code: { commit: 'abc1234' } });
  await provable(t, url, got.height, [got.model]);
  const proof = await rpc(url, 'model_getProof', { fingerprint: toHex(base.fingerprint) });
  t.not(proof.record.value, null, 'a record registered by the latest block is proven: model_getProof waits for the header that signs it');
  t.ok(proof.height >= r1.height, 'proven at its registration height or later');

  t.match(refused(await model(FAUCET, base)), /^model_refused: duplicate/, 'a fingerprint registers once');
  const orphan = registerOp('orphan', { parents: [{ fingerprint: sha256(new Uint8Array([9])), relation: 'finetune' }] });
  t.match(refused(await model(FAUCET, orphan)), /^model_refused: unknown_parent/, 'an unknown parent is refused (so no cycles)');
  const lying = { ...registerOp('lying'), fingerprint: fakeModel('other').fingerprint };
  t.match(refused(await model(FAUCET, lying)), /^model_refused: manifest_mismatch/, 'the manifest must hash to the fingerprint');
  await t.rejects(rpc(url, 'model_get', { fingerprint: toHex(orphan.fingerprint) }), { message: /no model with fingerprint/ }, 'a refused register leaves no record');

  const tuned = registerOp('tuned', { parents: [{ fingerprint: base.fingerprint, relation: 'finetune' }] });
  t.equal((await model(other, tuned)).receipt.status, 'ok');
  const byTensor = await rpc(url, 'model_getByTensor', { tensor_fingerprint: toHex(base.tensorFingerprint!) });
  t.same(byTensor.models.map((m: { name: string }) => m.name), ['org/base']);
  await provable(t, url, byTensor.height, byTensor.models);

  // Owner-only operations.
  t.match(refused(await model(other, { op: 'revoke', fingerprint: base.fingerprint, reason: 'mine now' })), /^model_refused: not_owner/);
  t.match(refused(await model(other, { op: 'update', fingerprint: base.fingerprint, license: 'MIT', metadataUri: null, evalDigest: null })), /not_owner/);
  const upd = await model(FAUCET, { op: 'update', fingerprint: base.fingerprint, license: 'MIT', metadataUri: 'https://example.org/card', evalDigest: null });
  t.equal(upd.receipt.status, 'ok');
  t.match((await rpc(url, 'model_get', { fingerprint: toHex(base.fingerprint) })).model, { license: 'MIT', metadata_uri: 'https://example.org/card' });

  // Attestations: anyone adds, only the author revokes, the owner cannot remove.
  const att = await model(other, { op: 'attest', fingerprint: base.fingerprint, kind: 'eval', value: 'mmlu=0.61', digest: null, uri: null });
  t.equal(att.receipt.status, 'ok');
  t.match(refused(await model(FAUCET, { op: 'revoke_attestation', id: fromHex(att.hash), reason: 'I disagree' })), /^model_refused: not_author/);
  const list1 = await rpc(url, 'model_attestations', { fingerprint: toHex(base.fingerprint) });
  t.match(list1.attestations, [{ id: att.hash, author: formatAddress(addressOf(other.publicKey)), kind: 'eval', value: 'mmlu=0.61', revoked: false }]);
  t.equal((await model(other, { op: 'revoke_attestation', id: fromHex(att.hash), reason: 'wrong split' })).receipt.status, 'ok');
  const list2 = await rpc(url, 'model_attestations', { fingerprint: toHex(base.fingerprint) });
  t.match(list2.attestations, [{ revoked: true, revoke_reason: 'wrong split' }], 'a revoked attestation stays listed, marked');
  await provable(t, url, list2.height, list2.attestations, (v) => attestationJson(decodeAttestation(v)));

  // Transfer moves the record between owners' lists.
  t.equal((await model(FAUCET, { op: 'transfer', fingerprint: base.fingerprint, to: addressOf(other.publicKey) })).receipt.status, 'ok');
  const mine = await rpc(url, 'model_listByOwner', { owner: formatAddress(addressOf(other.publicKey)) });
  t.same(mine.models.map((m: { name: string }) => m.name).sort(), ['org/base', 'org/tuned']);
  t.equal((await rpc(url, 'model_listByOwner', { owner: faucet })).total, 0);
  await provable(t, url, mine.height, mine.models);

  // Supersede: base -> tuned; then base is no longer active.
  t.match(refused(await model(other, { op: 'supersede', fingerprint: base.fingerprint, by: base.fingerprint })), /self_supersede/);
  t.equal((await model(other, { op: 'supersede', fingerprint: base.fingerprint, by: tuned.fingerprint })).receipt.status, 'ok');
  t.match((await rpc(url, 'model_get', { fingerprint: toHex(base.fingerprint) })).model, { status: 'superseded', superseded_by: toHex(tuned.fingerprint) });
  t.match(refused(await model(other, { op: 'supersede', fingerprint: tuned.fingerprint, by: base.fingerprint })), /not_active/, 'no supersede cycles');

  // Revocation is final.
  t.equal((await model(other, { op: 'revoke', fingerprint: tuned.fingerprint, reason: 'leaked eval set' })).receipt.status, 'ok');
  t.match(refused(await model(other, { op: 'revoke', fingerprint: tuned.fingerprint, reason: 'again' })), /^model_refused: revoked/);
  t.match((await rpc(url, 'model_get', { fingerprint: toHex(tuned.fingerprint) })).model, { status: 'revoked', revoke_reason: 'leaked eval set' });
  const tx = await rpc(url, 'tx_get', { hash: att.hash });
  t.same(tx.tx.payload, { type: 'model', op: 'attest', target: toHex(base.fingerprint) });
});

t.test('lineage pages through a deep chain and a merge; search pages by name prefix; replay reaches the same root', async (t) => {
  const { running, url, model } = await registryNode(t);
  const chain: Uint8Array[] = [];
  const DEPTH = 25;
  for (let i = 0; i <= DEPTH; i++) {
    const op = registerOp(`Gen-${String(i).padStart(3, '0')}`, { parents: i === 0 ? [] : [{ fingerprint: chain[i - 1]!, relation: i % 2 ? 'finetune' : 'quantized' }] });
    t.equal((await model(FAUCET, op)).receipt.status, 'ok');
    chain.push(op.fingerprint);
  }
  const side = registerOp('side');
  await model(FAUCET, side);
  const merged = registerOp('merged', { parents: [{ fingerprint: chain[DEPTH]!, relation: 'merge' }, { fingerprint: side.fingerprint, relation: 'merge' }] });
  t.equal((await model(FAUCET, merged)).receipt.status, 'ok');

  const walk = async (fingerprint: Uint8Array, direction: string, depth: number, limit: number) => {
    const nodes: { depth: number; model: { fingerprint: string } }[] = [];
    const edges: unknown[] = [];
    let cursor: string | null | undefined;
    let pages = 0;
    do {
      const page = await rpc(url, 'model_lineage', { fingerprint: toHex(fingerprint), direction, depth, limit, ...(cursor ? { cursor } : {}) });
      if (pages === 0) await provable(t, url, page.height, page.nodes.map((n: { model: { key: string } }) => n.model));
      nodes.push(...page.nodes);
      edges.push(...page.edges);
      cursor = page.next_cursor;
      pages++;
      t.notOk(page.truncated);
    } while (cursor);
    return { nodes, edges, pages };
  };
  const up = await walk(merged.fingerprint, 'ancestors', 1024, 7);
  t.equal(up.nodes.length, DEPTH + 3, 'every ancestor once: the chain, the side model, the root');
  t.equal(up.pages, Math.ceil((DEPTH + 3) / 7));
  t.same(up.nodes.map((n) => n.depth), [0, 1, 1, ...Array.from({ length: DEPTH }, (_, i) => i + 2)], 'breadth first');
  t.equal(up.edges.length, DEPTH + 2, 'one edge per parent link');
  t.equal(up.nodes.at(-1)!.model.fingerprint, toHex(chain[0]!));
  const shallow = await walk(merged.fingerprint, 'ancestors', 3, 100);
  t.equal(shallow.nodes.length, 5, 'depth bounds the walk');
  const down = await walk(chain[0]!, 'descendants', 1024, 10);
  t.equal(down.nodes.length, DEPTH + 2, 'descendants: the chain and the merge');
  t.equal(down.nodes.at(-1)!.model.fingerprint, toHex(merged.fingerprint));

  const names: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await rpc(url, 'model_search', { prefix: 'ORG/gen-', limit: 10, ...(cursor ? { cursor } : {}) });
    names.push(...page.models.map((m: { name: string }) => m.name));
    await provable(t, url, page.height, page.models);
    cursor = page.next_cursor;
  } while (cursor);
  t.same(names, chain.map((_, i) => `org/Gen-${String(i).padStart(3, '0')}`), 'case-insensitive, in name order, every page');
  t.same((await rpc(url, 'model_search', { prefix: 'nothing' })).models, []);

  // Light client: the record proven against the genesis validators.
  await waitForHeight(url, (await rpc(url, 'chain_status')).latest_height + 1);
  const power = (await rpc(url, 'consensus_validators')).validators[0].power as number;
  const proven = await proveModel({
    modelProof: (fp) => rpc(url, 'model_getProof', { fingerprint: toHex(fp) }),
    header: () => { throw new Error('unused'); },
    validators: () => { throw new Error('unused'); },
  }, merged.fingerprint, { kind: 'genesis', chainId: 'hallmark-nodetest', validators: [{ address: addressOf(VALIDATOR.publicKey), publicKey: VALIDATOR.publicKey, power }] });
  t.equal(proven.record?.name, 'org/merged', 'the record is proven against the genesis validator');
  t.equal(proven.record?.parents.length, 2);

  // Determinism: the same blocks into a second executor give the same root.
  const latest = (await rpc(url, 'chain_status')).latest_height as number;
  const replicaDir = await mkdtemp(join(tmpdir(), 'hallmark-replica-'));
  const replica = await openChain(replicaDir);
  t.teardown(async () => {
    await replica.db.close();
    await rm(replicaDir, { recursive: true, force: true });
  });
  await replica.executor.initGenesis(toGenesisState(fastGenesis()));
  const source = running.node.executor.blocks;
  for (let h = 1; h <= latest; h++) await replica.executor.applyBlock(decodeBlock((await source.getBlockBytes(h))!));
  const want = await rpc(url, 'state_getProof', { key: '00', height: latest });
  t.equal(toHex(replica.executor.head!.stateRoot), want.root, 'replayed blocks reach the node\'s state root');
});
