/**
 * `hallmark zk …` against a real node process: the key hash computed locally, register-key (and a
 * second registration refused), key (text and --json, through zk_getVerifyingKey), verify's exit
 * statuses (0 valid, 2 not valid with the rule's code, 1 for an unknown key or a bad file), and a
 * key the rule refuses before anything is sent.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../chain/bytes.ts';
import { startCliNode } from './fixtures/cli-node.ts';
import { fixtureKey, fixtureProofs, zkFixture } from './fixtures/zk.ts';

t.test('zk commands against a running node', async (t) => {
  const { home, h, stop } = await startCliNode(t);
  const file = (name: string, json: unknown) => {
    const path = join(home, name);
    writeFileSync(path, JSON.stringify(json, null, 2));
    return path;
  };
  const vk = file('vk.json', fixtureKey('multiplier'));
  const expected = toHex(zkFixture('multiplier').hash);
  const [p0] = fixtureProofs('multiplier');
  const proof = file('proof.json', p0!.proof);
  const pub = file('public.json', p0!.publicSignals);

  const hashed = await h('zk', 'hash', vk, '--json');
  t.equal(hashed.code, 0, hashed.stderr);
  t.same(JSON.parse(hashed.stdout), { key_hash: expected, bytes: 580 }, 'the hash is computed locally, from the canonical bytes');

  const reg = await h('zk', 'register-key', vk);
  t.equal(reg.code, 0, reg.stderr);
  t.match(reg.stdout, new RegExp(`^key hash +${expected}$`, 'm'));
  t.match(reg.stdout, /^status +ok$/m);
  const again = await h('zk', 'register-key', vk);
  t.equal(again.code, 1, 'a second registration fails');
  t.match(again.stderr, /zk_refused|key_registered/);

  const shown = await h('zk', 'key', expected);
  t.equal(shown.code, 0, shown.stderr);
  t.match(shown.stdout, /^public signals +1$/m);
  t.match(shown.stdout, /^registrant +hm1/m);
  const json = JSON.parse((await h('zk', 'key', expected, '--json')).stdout);
  t.same(json.key.IC, fixtureKey('multiplier').IC, 'the key comes back in snarkjs form');
  t.equal(json.key_hash, expected);

  const valid = await h('zk', 'verify', proof, pub, '--key', expected);
  t.equal(valid.code, 0, valid.stderr);
  t.match(valid.stdout, /^valid +true$/m);
  const tampered = file('tampered.json', [String(BigInt(p0!.publicSignals[0]!) + 1n)]);
  const invalid = await h('zk', 'verify', proof, tampered, '--key', expected);
  t.equal(invalid.code, 2, 'an invalid proof exits 2');
  t.match(invalid.stdout, /^code +invalid_proof$/m);
  const twoSignals = file('two.json', ['1', '2']);
  const count = await h('zk', 'verify', proof, twoSignals, '--key', expected, '--json');
  t.equal(count.code, 2);
  t.match(JSON.parse(count.stdout), { valid: false, code: 'wrong_signal_count' });
  const notCurve = file('offcurve.json', { ...p0!.proof, pi_a: ['1', '1', '1'] });
  t.match(JSON.parse((await h('zk', 'verify', notCurve, pub, '--key', expected, '--json')).stdout), { valid: false, code: 'not_on_curve' });
  const unknown = await h('zk', 'verify', proof, pub, '--key', '00'.repeat(32));
  t.equal(unknown.code, 1, 'an unknown key exits 1');
  t.match(unknown.stderr, /no verification key 0{64} is registered/);
  const missing = await h('zk', 'verify', join(home, 'nope.json'), pub, '--key', expected);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /cannot read proof/);

  const bad = file('bad-vk.json', { ...fixtureKey('multiplier'), vk_alpha_1: ['1', '1', '1'] });
  const refused = await h('zk', 'register-key', bad);
  t.equal(refused.code, 1, 'a key the rule refuses is not sent');
  t.match(refused.stderr, /vk_alpha_1 is not on the curve/);

  t.equal(await stop(), 0);
});
