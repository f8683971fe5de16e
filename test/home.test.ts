/**
 * cli/home.ts (init, load, resolve) and cli/keystore.ts, on real files in temporary directories.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { addressOf, formatAddress, parseAddress } from '../chain/address.ts';
import { equalBytes, fromHex, toHex } from '../chain/bytes.ts';
import { keyPairFromSecret, secretKeyFromSeed } from '../chain/keys.ts';
import { DEVNET_FAUCET_BALANCE } from '../genesis/devnet.ts';
import { parseGenesis } from '../genesis/schema.ts';
import { DEFAULT_CONFIG, formatConfig, parseConfig } from '../node/config.ts';
import { HomeError, initHome, isInitialized, loadHome, resolveHome } from '../cli/home.ts';
import { addKey, formatKeyFile, getKey, hasKey, KeyError, listKeys, showKey } from '../cli/keystore.ts';

const TIME = Date.UTC(2026, 10, 23);

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

t.test('initHome writes config, genesis, keys and an empty data dir', async (t) => {
  const home = join(t.testdir(), 'home');
  t.equal(await isInitialized(home), false);
  const r = await initHome(home, { time: TIME });
  t.equal(await isInitialized(home), true);

  t.same(readdirSync(home).sort(), ['config.toml', 'data', 'genesis.json', 'keys']);
  t.same(readdirSync(join(home, 'data')), [], 'data/ is created empty');
  t.same(readdirSync(join(home, 'keys')).sort(), ['faucet.json', 'validator.json']);
  t.same(parseConfig(readFileSync(join(home, 'config.toml'), 'utf8')), DEFAULT_CONFIG);
  t.equal(readFileSync(join(home, 'config.toml'), 'utf8'), formatConfig(structuredClone(DEFAULT_CONFIG)));

  const genesis = parseGenesis(readFileSync(join(home, 'genesis.json'), 'utf8'));
  t.equal(genesis.chainId, 'hallmark-devnet');
  t.equal(genesis.time, TIME);
  t.same(genesis, r.genesis);

  const validator = JSON.parse(readFileSync(join(home, 'keys', 'validator.json'), 'utf8'));
  const pair = keyPairFromSecret(fromHex(validator.secret_key));
  t.equal(validator.public_key, toHex(pair.publicKey));
  t.equal(validator.address, formatAddress(addressOf(pair.publicKey)));
  t.equal(genesis.validators.length, 1);
  t.ok(equalBytes(genesis.validators[0]!.publicKey, pair.publicKey), 'the genesis validator is the stored key');
  t.equal(r.validatorAddress, validator.address);

  const faucet = JSON.parse(readFileSync(join(home, 'keys', 'faucet.json'), 'utf8'));
  t.equal(faucet.address, formatAddress(addressOf(keyPairFromSecret(fromHex(faucet.secret_key)).publicKey)));
  t.equal(r.faucetAddress, faucet.address);
  const funded = genesis.accounts.find((a) => equalBytes(a.address, parseAddress(faucet.address)));
  t.equal(funded?.balance, DEVNET_FAUCET_BALANCE, 'the faucet is funded in genesis');
  t.not(faucet.secret_key, validator.secret_key);

  t.equal(mode(join(home, 'keys', 'validator.json')), 0o600);
  t.equal(mode(join(home, 'keys', 'faucet.json')), 0o600);
  t.equal(mode(join(home, 'keys')), 0o700);
});

t.test('initHome refuses an existing home; force replaces it and clears data/', async (t) => {
  const home = t.testdir();
  const first = await initHome(home, { time: TIME });
  await t.rejects(initHome(home, { time: TIME }), { code: 'home_exists', message: /already initialized.*--force/ });
  t.same(parseGenesis(readFileSync(join(home, 'genesis.json'), 'utf8')), first.genesis, 'the refused init changed nothing');

  writeFileSync(join(home, 'data', 'old-block'), 'x');
  await addKey(home, 'alice');
  const second = await initHome(home, { force: true, time: TIME + 1, chainId: 'hallmark-two' });
  t.not(second.validatorAddress, first.validatorAddress);
  t.not(second.faucetAddress, first.faucetAddress);
  t.same(readdirSync(join(home, 'data')), [], 'the old chain data is gone');
  const loaded = await loadHome(home);
  t.equal(loaded.genesis.chainId, 'hallmark-two');
  t.equal(loaded.validatorKey?.address, second.validatorAddress);
  t.ok(await hasKey(home, 'alice'), 'keys made with keys add are kept');
  t.equal(mode(join(home, 'keys', 'validator.json')), 0o600);
});

t.test('a half-written home (keys but no genesis) is refused, not overwritten', async (t) => {
  const home = t.testdir();
  await addKey(home, 'faucet');
  await t.rejects(initHome(home, { time: TIME }), { code: 'home_exists', message: /faucet\.json exist/ });
  t.equal(await isInitialized(home), false);
});

t.test('a bad chain id is refused before anything is written', async (t) => {
  const home = join(t.testdir(), 'h');
  await t.rejects(initHome(home, { chainId: 'Not Valid', time: TIME }), RangeError);
  t.equal(existsSync(home), false);
});

t.test('loadHome reads the home back', async (t) => {
  const home = t.testdir();
  const r = await initHome(home, { time: TIME });
  const loaded = await loadHome(home);
  t.same(loaded.config, DEFAULT_CONFIG);
  t.same(loaded.genesis, r.genesis);
  t.ok(loaded.validatorKey);
  t.ok(equalBytes(loaded.validatorKey!.publicKey, r.genesis.validators[0]!.publicKey));
  t.equal(loaded.validatorKey!.secretKey.length, 32);
  t.same(loaded.paths, {
    home, config: join(home, 'config.toml'), genesis: join(home, 'genesis.json'), keys: join(home, 'keys'), data: join(home, 'data'),
  });
});

t.test('loadHome names the file to fix', async (t) => {
  const missing = join(t.testdir(), 'nothing');
  await t.rejects(loadHome(missing), { code: 'home_not_initialized', message: /has no genesis\.json: run "hallmark init"/ });

  const home = t.testdir();
  await initHome(home, { time: TIME });
  const genesisPath = join(home, 'genesis.json');
  const good = readFileSync(genesisPath, 'utf8');
  const doc = JSON.parse(good);
  doc.chain_idd = 'x';
  doc.validators[0].power = '0';
  writeFileSync(genesisPath, JSON.stringify(doc));
  const err = await loadHome(home).then(() => null, (e: unknown) => e) as HomeError;
  t.ok(err instanceof HomeError);
  t.equal(err.code, 'genesis_invalid');
  t.equal(err.problems.length, 2);
  t.match(err.message, `${genesisPath}: `);
  t.match(err.message, 'chain_idd: unknown field');
  t.match(err.message, 'validators[0].power: must be greater than 0');
  t.notMatch(err.message, /\n/);

  writeFileSync(genesisPath, '{ not json');
  await t.rejects(loadHome(home), { code: 'genesis_invalid', message: /not valid JSON/ });
  writeFileSync(genesisPath, good);

  writeFileSync(join(home, 'config.toml'), '[rpc]\nlisten = "nowhere"\n');
  await t.rejects(loadHome(home), { code: 'config_invalid', message: `${join(home, 'config.toml')}: rpc.listen: must be "host:port" such as "127.0.0.1:26657" (IPv6 as "[::1]:26657"), got "nowhere"` });
  writeFileSync(join(home, 'config.toml'), '');

  const vpath = join(home, 'keys', 'validator.json');
  const vdoc = JSON.parse(readFileSync(vpath, 'utf8'));
  writeFileSync(vpath, JSON.stringify({ ...vdoc, public_key: toHex(keyPairFromSecret(secretKeyFromSeed('other')).publicKey) }));
  await t.rejects(loadHome(home), { code: 'key_file_invalid', message: `${vpath}: public_key does not belong to secret_key` });
  writeFileSync(vpath, JSON.stringify({ ...vdoc, secret_key: 'abc' }));
  await t.rejects(loadHome(home), { code: 'key_file_invalid', message: `${vpath}: secret_key: expected 64 hex characters` });
  writeFileSync(vpath, '');
  await t.rejects(loadHome(home), { code: 'key_file_invalid', message: new RegExp(`^${vpath}: not valid JSON`) });
});

t.test('a home without a validator key loads with validatorKey null', async (t) => {
  const home = t.testdir();
  await initHome(home, { time: TIME });
  const { rmSync } = await import('node:fs');
  rmSync(join(home, 'keys', 'validator.json'));
  t.equal((await loadHome(home)).validatorKey, null);
});

t.test('resolveHome: --home, then HALLMARK_HOME, then ~/.hallmark', async (t) => {
  t.equal(resolveHome('/x/y', { HALLMARK_HOME: '/z' }), '/x/y');
  t.equal(resolveHome(undefined, { HALLMARK_HOME: '/z' }), '/z');
  t.equal(resolveHome(undefined, {}), join(homedir(), '.hallmark'));
  t.equal(resolveHome(undefined, { HALLMARK_HOME: '' }), join(homedir(), '.hallmark'));
  t.equal(resolveHome('~/n', {}), join(homedir(), 'n'));
  t.equal(resolveHome('rel', {}), join(process.cwd(), 'rel'));
});

// ---- keystore --------------------------------------------------------------------------------------

t.test('keys: add, list, show, get', async (t) => {
  const home = t.testdir();
  t.same(await listKeys(home), [], 'no keys dir: no keys');
  const bob = await addKey(home, 'bob');
  const alice = await addKey(home, 'alice-2');
  t.match(bob.address, /^hm1/);
  t.equal(bob.address, formatAddress(addressOf(bob.publicKey)));
  t.not(bob.address, alice.address);
  t.same((await listKeys(home)).map((k) => k.name), ['alice-2', 'bob']);
  const shown = await showKey(home, 'bob');
  t.same(shown, bob);
  t.notOk('secretKey' in shown, 'show has no secret');
  const got = await getKey(home, 'bob');
  t.ok(equalBytes(keyPairFromSecret(got.secretKey).publicKey, bob.publicKey), 'get returns the matching secret');
  t.equal(mode(join(home, 'keys', 'bob.json')), 0o600);
  t.equal(await hasKey(home, 'bob'), true);
  t.equal(await hasKey(home, 'carol'), false);
  t.equal(await hasKey(home, '../bob'), false);

  writeFileSync(join(home, 'keys', 'notes.txt'), 'not a key');
  t.equal((await listKeys(home)).length, 2, 'other files are not keys');
  writeFileSync(join(home, 'keys', 'imported.json'), formatKeyFile(keyPairFromSecret(secretKeyFromSeed('imported'))));
  t.equal((await showKey(home, 'imported')).address, formatAddress(addressOf(keyPairFromSecret(secretKeyFromSeed('imported')).publicKey)));
});

t.test('keys: bad names, duplicates, missing keys, broken files', async (t) => {
  const home = t.testdir();
  await addKey(home, 'bob');
  for (const name of ['', 'Bob', '-bob', '_x', 'a b', '../evil', 'x'.repeat(33), 'bob.json', 'é']) {
    await t.rejects(addKey(home, name), { code: 'key_name_invalid' }, JSON.stringify(name));
  }
  await addKey(home, 'x'.repeat(32));
  const before = readFileSync(join(home, 'keys', 'bob.json'), 'utf8');
  await t.rejects(addKey(home, 'bob'), { code: 'key_exists', message: /a key named "bob" already exists/ });
  t.equal(readFileSync(join(home, 'keys', 'bob.json'), 'utf8'), before, 'the existing key is untouched');
  await t.rejects(getKey(home, 'carol'), { code: 'key_not_found', message: /no key named "carol"/ });
  await t.rejects(showKey(home, 'Bad Name'), KeyError);

  writeFileSync(join(home, 'keys', 'broken.json'), '{"address": "hm1x", "public_key": "00", "secret_key": "00", "extra": 1}');
  await t.rejects(listKeys(home), {
    code: 'key_file_invalid',
    message: `${join(home, 'keys', 'broken.json')}: public_key: expected 64 hex characters; secret_key: expected 64 hex characters; extra: unknown field (expected one of address, public_key, secret_key)`,
  }, 'a broken file is reported, not skipped, with every problem');
  writeFileSync(join(home, 'keys', 'broken.json'), '{"adress": "hm1x", "public_key": 7}');
  await t.rejects(listKeys(home), {
    code: 'key_file_invalid',
    message: `${join(home, 'keys', 'broken.json')}: address: missing (required field); public_key: expected a string, got number 7; secret_key: missing (required field); adress: unknown field (did you mean "address"?)`,
  }, 'each field named, with a hint for a misspelt one');
});
