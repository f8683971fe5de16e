/**
 * `hallmark contract …` against a real node process: deploy, call, query and code, with the
 * arguments and return values in the contract ABI, and the failures a user meets.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCliNode } from './fixtures/cli-node.ts';
import { STORE } from './fixtures/vm-contracts.ts';
import { wat } from './fixtures/vm.ts';

t.test('contract deploy, call, query and code against a running node', async (t) => {
  const { home, h, stop } = await startCliNode(t);

  const file = join(home, 'store.wasm');
  writeFileSync(file, STORE);
  const deployed = await h('contract', 'deploy', file);
  t.equal(deployed.code, 0, deployed.stderr);
  const address = /^address +(hm1\S+)$/m.exec(deployed.stdout)?.[1];
  t.ok(address, `the address is printed:\n${deployed.stdout}`);
  t.match(deployed.stdout, /^status +ok$/m);
  t.match(deployed.stdout, /^gas used +\d+$/m);

  const called = await h('contract', 'call', address!, 'increment');
  t.equal(called.code, 0, called.stderr);
  t.match(called.stdout, /^return +0x0100000000000000$/m, 'return data that is not ABI values is shown as hex');
  t.match(called.stdout, /^events\n  contract contract=hm1\S+ topic=[0-9a-f]{64} data=0100000000000000$/m, 'the event');

  const echoed = await h('contract', 'query', address!, 'echo', '42', 'hello', 'true', '0xbeef', 'str:7', 'addr:faucet');
  t.equal(echoed.code, 0, echoed.stderr);
  const faucet = JSON.parse((await h('keys', 'show', 'faucet', '--json')).stdout).address;
  t.match(echoed.stdout, new RegExp(`^return +42 "hello" true 0xbeef "7" ${faucet}$`, 'm'), 'arguments in, ABI values back');
  const json = JSON.parse((await h('contract', 'query', address!, 'echo', '1', '--json')).stdout);
  t.equal(json.ok, true);
  t.equal(json.return_data, '010100000000000000');

  const out = join(home, 'back.wasm');
  const code = await h('contract', 'code', address!, '--out', out);
  t.equal(code.code, 0, code.stderr);
  t.match(code.stdout, /^methods +.*increment/m);
  t.same(readFileSync(out), Buffer.from(STORE), 'the module comes back as deployed');

  const reverted = await h('contract', 'call', address!, 'fail');
  t.equal(reverted.code, 1);
  t.match(reverted.stderr, /^error: transaction \S+ was committed but failed: revert: no way\n$/, 'the revert reason, in one line');
  const spun = await h('contract', 'query', address!, 'spin', '--gas-limit', '100000');
  t.equal(spun.code, 1);
  t.match(spun.stderr, /out_of_gas/);

  const floats = join(home, 'floats.wasm');
  writeFileSync(floats, wat('(module (memory (export "memory") 1 1) (func (export "f") (drop (f32.const 1))))'));
  const refused = await h('contract', 'deploy', floats);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /failed: .*floating-point instructions are not allowed/);
  t.match(refused.stdout, /^status +invalid_contract$/m, 'the refusal is shown');
  t.notMatch(refused.stdout, /^address/m, 'and no address: no contract exists');
  const refusedJson = await h('contract', 'deploy', floats, '--json');
  t.equal(refusedJson.code, 1);
  t.equal(JSON.parse(refusedJson.stdout).receipt.status, 'invalid_contract');
  t.notOk('address' in JSON.parse(refusedJson.stdout), 'nor in --json');
  const pending = await h('contract', 'deploy', file, '--no-wait');
  t.equal(pending.code, 0, pending.stderr);
  t.match(pending.stdout, /^status +checked$/m);
  t.notMatch(pending.stdout, /^address/m, 'a deploy not committed yet prints no address either');
  const missing = await h('contract', 'deploy', join(home, 'nope.wasm'));
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^error: cannot read .*nope\.wasm/);
  const badArg = await h('contract', 'call', address!, 'echo', 'u64:-3');
  t.equal(badArg.code, 1);
  t.match(badArg.stderr, /^error: u64: expected a decimal integer/);

  t.equal(await stop(), 0);
});
