import t, { type Test } from 'tap';
import { addressOf, formatAddress } from '../chain/address.ts';
import { equalBytes, toHex } from '../chain/bytes.ts';
import { keyPairFromSecret, secretKeyFromSeed } from '../chain/keys.ts';
import { minBlockBytes, worstBlockBytes } from '../chain/block-rules.ts';
import { MAX_TX_BYTES } from '../chain/tx.ts';
import { DEFAULT_MAX_GAS } from '../genesis/devnet.ts';
import { intrinsicGas } from '../execution/transaction.ts';
import { LIMITS } from '../vm/limits.ts';
import { blockLimits, genesisHash, toGenesisState, type Genesis } from '../genesis/genesis.ts';
import { formatGenesis, GenesisError, MAX_MAX_GAS, MAX_TOTAL_POWER, MIN_MAX_GAS, parseGenesis, validatorsHash } from '../genesis/schema.ts';

const key = (label: string) => keyPairFromSecret(secretKeyFromSeed(label)).publicKey;
const [K0, K1, K2] = [key('g0'), key('g1'), key('g2')];
const ADDR = [formatAddress(addressOf(key('a0'))), formatAddress(addressOf(key('a1'))), formatAddress(addressOf(key('a2')))] as const;

/** A valid document; tests edit a copy. */
function doc(): any {
  return {
    protocol_version: 1,
    chain_id: 'hallmark-devnet',
    genesis_time: '2026-11-23T00:00:00.000Z',
    consensus_params: {
      block: { max_bytes: 4194304, max_txs: 10000, max_gas: 250000000 },
      fees: { min_gas_price: '1' },
      synchrony: { precision_ms: 500, message_delay_ms: 15000 },
      evidence: { max_age_heights: 100000 },
      timeouts: { propose_ms: 3000, propose_delta_ms: 500, prevote_ms: 1000, prevote_delta_ms: 500, precommit_ms: 1000, precommit_delta_ms: 500, commit_ms: 1000 },
    },
    validators: [
      { name: 'validator-0', public_key: toHex(K0), power: '10' },
      { name: 'validator-1', public_key: toHex(K1), power: '20' },
      { name: 'validator-2', public_key: toHex(K2), power: '30' },
    ],
    accounts: [
      { address: ADDR[0], balance: '1000000000000' },
      { address: ADDR[1], balance: '0' },
    ],
  };
}

/** Parses `d` and returns the GenesisError, failing the test if it parsed or threw something else. */
function problems(t: Test, d: unknown): string[] {
  let result: Genesis | undefined;
  try {
    result = parseGenesis(d);
  } catch (err) {
    t.type(err, GenesisError);
    t.equal((err as GenesisError).code, 'genesis_invalid');
    t.equal(result, undefined, 'nothing is returned');
    for (const p of (err as GenesisError).problems) t.ok((err as Error).message.includes(p), 'the message lists each problem');
    return [...(err as GenesisError).problems];
  }
  t.fail('expected GenesisError');
  return [];
}

t.test('a valid genesis parses into typed values and round-trips through formatGenesis', async (t) => {
  const g = parseGenesis(JSON.stringify(doc()));
  t.equal(g.chainId, 'hallmark-devnet');
  t.equal(g.time, Date.UTC(2026, 10, 23));
  t.equal(g.protocolVersion, 1);
  t.same(g.consensusParams, {
    block: { maxBytes: 4194304, maxTxs: 10000, maxGas: 250_000_000 },
    fees: { minGasPrice: 1n },
    synchrony: { precisionMs: 500, messageDelayMs: 15_000 },
    evidence: { maxAgeHeights: 100_000 },
    timeouts: { proposeMs: 3000, proposeDeltaMs: 500, prevoteMs: 1000, prevoteDeltaMs: 500, precommitMs: 1000, precommitDeltaMs: 500, commitMs: 1000 },
  });
  t.equal(g.validators.length, 3);
  t.ok(equalBytes(g.validators[1]!.publicKey, K1));
  t.ok(equalBytes(g.validators[1]!.address, addressOf(K1)));
  t.equal(g.validators[1]!.power, 20);
  t.equal(g.accounts[0]!.balance, 1_000_000_000_000n);
  t.equal(typeof g.accounts[0]!.balance, 'bigint');

  const text = formatGenesis(g);
  t.same(JSON.parse(text), doc(), 'the same fields in the same order');
  t.same(Object.keys(JSON.parse(text)), Object.keys(doc()));
  t.ok(text.startsWith('{\n  "protocol_version": 1,\n  "chain_id": "hallmark-devnet",\n'), '2-space JSON');
  t.same(blockLimits(g), { protocolVersion: 1, maxBytes: 4194304, maxTxs: 10000, maxGas: 250_000_000, minGasPrice: 1n });
  t.ok(text.endsWith('}\n'));
  t.same(parseGenesis(text), g, 'parse(format(g)) deep-equals g');
  t.equal(formatGenesis(parseGenesis(text)), text, 'formatting is stable');
  t.same(parseGenesis(doc()), g, 'an already-parsed value works too');
});

t.test('toGenesisState gives the executor chain id, time and accounts', async (t) => {
  const g = parseGenesis(doc());
  const s = toGenesisState(g);
  t.same(Object.keys(s).sort(), ['accounts', 'chainId', 'time']);
  t.equal(s.chainId, g.chainId);
  t.equal(s.time, g.time);
  t.equal(s.accounts.length, 2);
  t.ok(equalBytes(s.accounts[0]!.address, g.accounts[0]!.address));
  t.equal(s.accounts[0]!.balance, 1_000_000_000_000n);
});

t.test('accepted edge values', async (t) => {
  const d = doc();
  d.genesis_time = '2026-11-23T01:02:03Z';
  d.validators[0].public_key = d.validators[0].public_key.toUpperCase();
  d.accounts[0].balance = '18446744073709551615';
  d.accounts[1].balance = '0';
  const g = parseGenesis(d);
  t.equal(g.time, Date.UTC(2026, 10, 23, 1, 2, 3));
  t.ok(equalBytes(g.validators[0]!.publicKey, K0));
  t.equal(g.accounts[0]!.balance, 2n ** 64n - 1n);
  const max = doc();
  max.validators = [{ name: 'v', public_key: toHex(K0), power: String(MAX_TOTAL_POWER) }];
  t.equal(parseGenesis(max).validators[0]!.power, MAX_TOTAL_POWER);
  const none = doc();
  none.accounts = [];
  t.same(parseGenesis(none).accounts, []);
});

// Each case: an edit to a valid document, and the one problem line it must produce.
const cases: [string, (d: any) => void, string][] = [
  ['zero power', (d) => { d.validators[1].power = '0'; }, 'validators[1].power: must be greater than 0'],
  ['negative power', (d) => { d.validators[1].power = '-5'; }, 'validators[1].power: must be a decimal integer'],
  ['power as a number', (d) => { d.validators[0].power = 10; }, 'validators[0].power: expected a string, got number 10'],
  ['power over the cap', (d) => { d.validators[0].power = String(MAX_TOTAL_POWER + 1); }, `validators[0].power: exceeds the maximum total power of ${MAX_TOTAL_POWER}`],
  ['total power over the cap', (d) => { d.validators[0].power = String(MAX_TOTAL_POWER); }, `validators: total power ${MAX_TOTAL_POWER + 50} exceeds the maximum of ${MAX_TOTAL_POWER}`],
  ['duplicate public key', (d) => { d.validators[2].public_key = toHex(K0); }, 'validators[2]: duplicate public key (same as validators[0])'],
  ['duplicate public key in another case', (d) => { d.validators[2].public_key = toHex(K0).toUpperCase(); }, 'validators[2]: duplicate public key (same as validators[0])'],
  ['short public key', (d) => { d.validators[0].public_key = 'abcd'; }, 'validators[0].public_key: must be 64 hex characters'],
  ['public key that is not a curve point', (d) => { d.validators[0].public_key = '02' + '00'.repeat(31); }, 'validators[0].public_key: not a usable Ed25519 public key: not the canonical encoding'],
  ['small-order public key', (d) => { d.validators[0].public_key = '01' + '00'.repeat(31); }, 'validators[0].public_key: not a usable Ed25519 public key: a small-order Ed25519 point'],
  // y = p + 1 (non-canonical) encodes the same point as y = 1, the identity's neighbour order.
  ['non-canonical public key', (d) => { d.validators[0].public_key = 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'; }, 'validators[0].public_key: not a usable Ed25519 public key: not the canonical encoding'],
  ['duplicate validator name', (d) => { d.validators[1].name = 'validator-0'; }, 'validators[1].name: duplicate name (same as validators[0])'],
  ['empty validator name', (d) => { d.validators[1].name = ''; }, 'validators[1].name: must be 1-64 characters'],
  ['zero validators', (d) => { d.validators = []; }, 'validators: must list at least one validator'],
  ['validators not a list', (d) => { d.validators = {}; }, 'validators: expected an array, got an object'],
  ['address typo', (d) => { d.accounts[0].address = ADDR[0].slice(0, -1) + (ADDR[0].endsWith('q') ? 'p' : 'q'); }, 'accounts[0].address: checksum does not match (typo?)'],
  ['address with wrong prefix', (d) => { d.accounts[0].address = 'cosmos1abc'; }, 'accounts[0].address: must start with "hm1"'],
  ['duplicate account address', (d) => { d.accounts.push({ address: ADDR[0], balance: '1' }); }, 'accounts[2].address: duplicate address (same as accounts[0])'],
  ['duplicate account address in upper case', (d) => { d.accounts.push({ address: ADDR[0].toUpperCase(), balance: '1' }); }, 'accounts[2].address: duplicate address (same as accounts[0])'],
  ['balance over u64', (d) => { d.accounts[0].balance = '18446744073709551616'; }, 'accounts[0].balance: exceeds 2^64-1'],
  ['balance with leading zero', (d) => { d.accounts[0].balance = '0100'; }, 'accounts[0].balance: must be a decimal integer'],
  ['balance as a decimal fraction', (d) => { d.accounts[0].balance = '1.5'; }, 'accounts[0].balance: must be a decimal integer'],
  ['total supply over u64', (d) => { d.accounts[0].balance = '18446744073709551615'; d.accounts[1].balance = '1'; }, 'accounts: total supply 18446744073709551616 exceeds 2^64-1'],
  ['bad chain id', (d) => { d.chain_id = 'Hallmark Devnet'; }, 'chain_id: use 1-64 characters'],
  ['empty chain id', (d) => { d.chain_id = ''; }, 'chain_id: use 1-64 characters'],
  ['time without a zone', (d) => { d.genesis_time = '2026-11-23T00:00:00'; }, 'genesis_time: must be an RFC 3339 UTC time'],
  ['time with an offset', (d) => { d.genesis_time = '2026-11-23T00:00:00+01:00'; }, 'genesis_time: must be an RFC 3339 UTC time'],
  ['time below milliseconds', (d) => { d.genesis_time = '2026-11-23T00:00:00.0001Z'; }, 'genesis_time: must be an RFC 3339 UTC time'],
  ['impossible date', (d) => { d.genesis_time = '2026-02-30T00:00:00Z'; }, 'genesis_time: not a real date and time'],
  ['time as a number', (d) => { d.genesis_time = 1700000000000; }, 'genesis_time: expected a string, got number 1700000000000'],
  ['time before 1970', (d) => { d.genesis_time = '1969-12-31T23:59:59Z'; }, 'genesis_time: must not be before 1970'],
  ['missing chain id', (d) => { delete d.chain_id; }, 'chain_id: missing (required field)'],
  ['missing account balance', (d) => { delete d.accounts[1].balance; }, 'accounts[1].balance: missing (required field)'],
  ['missing timeouts', (d) => { delete d.consensus_params.timeouts; }, 'consensus_params.timeouts: missing (required field)'],
  ['unknown top-level field', (d) => { d.chainid = 'x'; }, 'chainid: unknown field (did you mean "chain_id"?)'],
  ['unknown validator field', (d) => { d.validators[2].pub_key = 'x'; }, 'validators[2].pub_key: unknown field (expected one of name, public_key, power)'],
  ['unknown consensus field', (d) => { d.consensus_params.block.max_gass = 1; }, 'consensus_params.block.max_gass: unknown field (did you mean "max_gas"?)'],
  ['unsupported protocol version', (d) => { d.protocol_version = 4; }, 'protocol_version: protocol version 4 is not one this Hallmark runs (1, 2, 3)'],
  ['missing protocol version', (d) => { delete d.protocol_version; }, 'protocol_version: missing (required field)'],
  ['max_gas below the floor', (d) => { d.consensus_params.block.max_gas = MIN_MAX_GAS - 1; }, `consensus_params.block.max_gas: must be at least ${MIN_MAX_GAS}`],
  ['max_gas over 2^52', (d) => { d.consensus_params.block.max_gas = MAX_MAX_GAS + 1; }, 'consensus_params.block.max_gas: must be at most 2^52'],
  ['max_bytes over the codec cap', (d) => { d.consensus_params.block.max_bytes = 64 * 1024 * 1024 + 1; }, `consensus_params.block.max_bytes: must be at most ${64 * 1024 * 1024}`],
  ['max_txs over the codec cap', (d) => { d.consensus_params.block.max_txs = 100_001; }, 'consensus_params.block.max_txs: must be at most 100000'],
  ['max_bytes too small for the largest transaction', (d) => { d.consensus_params.block.max_bytes = minBlockBytes(3) - 1; }, `consensus_params.block.max_bytes: must be at least ${minBlockBytes(3)} for 3 validator(s)`],
  ['gas price as a number', (d) => { d.consensus_params.fees.min_gas_price = 1; }, 'consensus_params.fees.min_gas_price: expected a string, got number 1'],
  ['missing synchrony', (d) => { delete d.consensus_params.synchrony; }, 'consensus_params.synchrony: missing (required field)'],
  ['zero message delay', (d) => { d.consensus_params.synchrony.message_delay_ms = 0; }, 'consensus_params.synchrony.message_delay_ms: must be at least 1'],
  ['zero evidence age', (d) => { d.consensus_params.evidence.max_age_heights = 0; }, 'consensus_params.evidence.max_age_heights: must be at least 1'],
  ['fractional timeout', (d) => { d.consensus_params.timeouts.propose_ms = 1.5; }, 'consensus_params.timeouts.propose_ms: expected an integer, got number 1.5'],
  ['zero propose timeout', (d) => { d.consensus_params.timeouts.propose_ms = 0; }, 'consensus_params.timeouts.propose_ms: must be at least 1'],
  ['huge timeout', (d) => { d.consensus_params.timeouts.commit_ms = 3_600_000; }, 'consensus_params.timeouts.commit_ms: must be at most 600000'],
  ['zero max_bytes', (d) => { d.consensus_params.block.max_bytes = 0; }, 'consensus_params.block.max_bytes: must be at least 1'],
];

for (const [name, edit, expected] of cases) {
  t.test(`rejects: ${name}`, async (t) => {
    const d = doc();
    edit(d);
    const found = problems(t, d);
    t.equal(found.length, 1, `exactly one problem: ${found.join(' | ')}`);
    t.ok(found[0]?.startsWith(expected), `${JSON.stringify(found[0])} starts with ${JSON.stringify(expected)}`);
  });
}

t.test('every problem is listed when there are several', async (t) => {
  const d = doc();
  d.chain_id = 'BAD';
  d.genesis_time = 'yesterday';
  d.validators[1].power = '0';
  d.validators[2].public_key = toHex(K0);
  d.validators[2].extra = true;
  d.accounts[0].address = ADDR[0].slice(0, -1) + (ADDR[0].endsWith('q') ? 'p' : 'q');
  d.accounts[1].address = ADDR[2];
  d.accounts.push({ address: ADDR[2], balance: '5' });
  delete d.consensus_params.block.max_txs;
  const found = problems(t, d);
  const expected = [
    'chain_id: use 1-64 characters',
    'genesis_time: must be an RFC 3339 UTC time',
    'consensus_params.block.max_txs: missing (required field)',
    'validators[1].power: must be greater than 0',
    'validators[2].extra: unknown field',
    'validators[2]: duplicate public key (same as validators[0])',
    'accounts[0].address: checksum does not match (typo?)',
    'accounts[2].address: duplicate address (same as accounts[1])',
  ];
  t.equal(found.length, expected.length, found.join('\n'));
  for (const [i, e] of expected.entries()) t.ok(found[i]?.startsWith(e), `lists ${e}, in file order`);
  t.throws(() => parseGenesis(d), { message: /^genesis is invalid \(8 problems\):\n {2}chain_id: / });
});

t.test('bad JSON text gives a parse error with its position', async (t) => {
  const found = problems(t, '{\n  "chain_id": "hallmark-devnet",\n}');
  t.equal(found.length, 1);
  t.match(found[0], /^\(document\): not valid JSON: .*position \d+/);
  t.match(problems(t, '')[0], /^\(document\): not valid JSON/);
  t.same(parseGenesis(`\uFEFF${JSON.stringify(doc())}`), parseGenesis(doc()), 'a byte-order mark is tolerated');
});

t.test('a key given twice in one object is refused, wherever it is', async (t) => {
  const text = JSON.stringify(doc(), null, 2);
  // The first validator's power given twice: JSON.parse would keep the last one without a word.
  const twice = text.replace(/"power": ("[^"]*")/, '"power": "1",\n      "power": $1');
  t.not(twice, text, 'fixture: the key was duplicated');
  t.same(problems(t, twice), ['validators[0].power: appears twice in its object (only one may be given)']);
  t.same(problems(t, `{"chain_id": "a", "chain_id": "b"}`), ['chain_id: appears twice in its object (only one may be given)']);
  // Equal keys in different objects, and key-like text inside strings, are fine.
  const names = doc();
  names.validators.push({ ...names.validators[0], name: 'x", "name": "y', public_key: toHex(keyPairFromSecret(secretKeyFromSeed('dup-test')).publicKey) });
  t.doesNotThrow(() => parseGenesis(JSON.stringify(names)));
});

t.test('a document that is not an object', async (t) => {
  t.same(problems(t, 'null'), ['(document): expected an object, got null']);
  t.same(problems(t, []), ['(document): expected an object, got an array']);
  t.same(problems(t, '"genesis"'), ['(document): expected an object, got string "genesis"']);
});

t.test('validatorsHash does not depend on order but on every key and power', async (t) => {
  const vs = parseGenesis(doc()).validators;
  const h = validatorsHash(vs);
  t.equal(h.length, 32);
  t.same(validatorsHash([...vs].reverse()), h);
  t.same(validatorsHash([vs[1]!, vs[0]!, vs[2]!]), h);
  const d = doc();
  d.validators.reverse();
  t.same(validatorsHash(parseGenesis(d).validators), h, 'listing order in the file does not matter');
  for (const i of vs.keys()) {
    const morePower = vs.map((w, j) => (j === i ? { ...w, power: w.power + 1 } : w));
    t.notSame(validatorsHash(morePower), h, `power of validators[${i}]`);
    const otherKey = key(`other-${i}`);
    const newKey = vs.map((w, j) => (j === i ? { ...w, publicKey: otherKey, address: addressOf(otherKey) } : w));
    t.notSame(validatorsHash(newKey), h, `key of validators[${i}]`);
  }
  t.notSame(validatorsHash(vs.slice(1)), h, 'a missing validator');
});

t.test('genesisHash is of the meaning, not the text', async (t) => {
  const g = parseGenesis(doc());
  const h = genesisHash(g);
  t.equal(h.length, 32);
  t.same(genesisHash(parseGenesis(formatGenesis(g))), h);
  t.same(genesisHash(parseGenesis(JSON.stringify(doc()))), h, 'whitespace does not matter');
  const edits: ((d: any) => void)[] = [
    (d) => { d.chain_id = 'hallmark-other'; },
    (d) => { d.genesis_time = '2026-11-23T00:00:00.001Z'; },
    (d) => { d.consensus_params.block.max_txs = 9999; },
    (d) => { d.consensus_params.block.max_gas += 1; },
    (d) => { d.consensus_params.fees.min_gas_price = '2'; },
    (d) => { d.consensus_params.synchrony.precision_ms = 501; },
    (d) => { d.consensus_params.evidence.max_age_heights = 99; },
    (d) => { d.consensus_params.timeouts.commit_ms = 999; },
    (d) => { d.validators[0].power = '11'; },
    (d) => { d.validators[0].name = 'renamed'; },
    (d) => { d.accounts[1].balance = '1'; },
    (d) => { d.accounts.reverse(); },
  ];
  for (const [i, edit] of edits.entries()) {
    const d = doc();
    edit(d);
    t.notSame(genesisHash(parseGenesis(d)), h, `edit ${i} changes the hash`);
  }
});

t.test('the smallest max_bytes is derived from the codec, and grows with the validator count', async (t) => {
  for (const n of [1, 3, 100]) {
    const least = minBlockBytes(n);
    t.equal(least, worstBlockBytes(n, MAX_TX_BYTES), `${n} validators: a block with the largest transaction and everything else at its largest`);
    t.ok(least > MAX_TX_BYTES + worstBlockBytes(n, 0) - 8, 'it holds the transaction and the overhead');
    const d = doc();
    d.validators = d.validators.slice(0, Math.min(n, 3));
    const m = Math.min(n, 3);
    d.consensus_params.block.max_bytes = minBlockBytes(m);
    t.equal(parseGenesis(d).consensusParams.block.maxBytes, minBlockBytes(m), 'exactly the floor is accepted');
  }
  t.ok(minBlockBytes(100) > minBlockBytes(1), 'a bigger commit needs more room');
});

t.test('the max_gas floor holds the largest non-deploy transaction; the devnet default holds the largest deploy', async (t) => {
  const args = new Uint8Array(MAX_TX_BYTES - 200);
  const call = intrinsicGas(MAX_TX_BYTES, { kind: 'call', contract: new Uint8Array(20), method: 'm', args, value: 0n });
  t.ok(MIN_MAX_GAS >= call, `a 1 MiB call needs ${call} gas before it runs; the floor is ${MIN_MAX_GAS}`);
  const code = new Uint8Array(LIMITS.maxCodeBytes);
  const deploy = intrinsicGas(LIMITS.maxCodeBytes + 64 * 1024, { kind: 'deploy', code, args: new Uint8Array(0) });
  t.ok(DEFAULT_MAX_GAS >= deploy, `the largest module's deploy needs ${deploy} gas; the devnet's max_gas is ${DEFAULT_MAX_GAS}`);
});
