import t from 'tap';
import { addressOf } from '../chain/address.ts';
import { equalBytes } from '../chain/bytes.ts';
import { keyPairFromSecret, secretKeyFromSeed } from '../chain/keys.ts';
import { merkleRoot } from '../chain/merkle.ts';
import { DEVNET_FAUCET_BALANCE, devnetGenesis } from '../genesis/devnet.ts';
import { toGenesisState } from '../genesis/genesis.ts';
import { formatGenesis, GenesisError, parseGenesis, validatorsHash } from '../genesis/schema.ts';
import { openChain } from './fixtures/chain.ts';

const validator = keyPairFromSecret(secretKeyFromSeed('devnet-validator'));
const faucet = addressOf(keyPairFromSecret(secretKeyFromSeed('devnet-faucet')).publicKey);
const TIME = Date.UTC(2026, 10, 23);

t.test('the devnet genesis has one validator and a funded faucet, and parses back', async (t) => {
  const g = devnetGenesis({ validatorPublicKey: validator.publicKey, faucetAddress: faucet, time: TIME });
  t.equal(g.chainId, 'hallmark-devnet');
  t.equal(g.time, TIME);
  t.equal(g.validators.length, 1);
  t.ok(equalBytes(g.validators[0]!.publicKey, validator.publicKey));
  t.ok(equalBytes(g.validators[0]!.address, addressOf(validator.publicKey)));
  t.ok(g.validators[0]!.power > 0);
  t.equal(g.accounts.length, 1);
  t.ok(equalBytes(g.accounts[0]!.address, faucet));
  t.equal(g.accounts[0]!.balance, DEVNET_FAUCET_BALANCE);
  const text = formatGenesis(g);
  t.same(parseGenesis(text), g, 'what hallmark init writes reads back the same');
  t.same(devnetGenesis({ validatorPublicKey: validator.publicKey, faucetAddress: faucet, time: TIME }), g, 'deterministic');
  t.notSame(validatorsHash(g.validators), merkleRoot([]));
});

t.test('devnet options: chain id and checks', async (t) => {
  const g = devnetGenesis({ validatorPublicKey: validator.publicKey, faucetAddress: faucet, time: TIME, chainId: 'hallmark-local' });
  t.equal(g.chainId, 'hallmark-local');
  t.throws(() => devnetGenesis({ validatorPublicKey: validator.publicKey, faucetAddress: faucet, time: TIME, chainId: 'Not Valid' }), RangeError);
  t.throws(() => devnetGenesis({ validatorPublicKey: validator.publicKey, faucetAddress: faucet, time: -1 }), RangeError);
  t.throws(() => devnetGenesis({ validatorPublicKey: validator.publicKey, faucetAddress: faucet, time: 1.5 }), RangeError);
  t.throws(() => devnetGenesis({ validatorPublicKey: validator.publicKey, faucetAddress: faucet, time: TIME, faucetBalance: 2n ** 64n }), RangeError);
  t.throws(() => devnetGenesis({ validatorPublicKey: new Uint8Array(31), faucetAddress: faucet, time: TIME }), TypeError);
  t.throws(() => devnetGenesis({ validatorPublicKey: validator.publicKey, faucetAddress: faucet, time: TIME, validatorName: '' }), GenesisError);
});

t.test('the devnet genesis initialises a real executor and funds the faucet', async (t) => {
  const g = parseGenesis(formatGenesis(devnetGenesis({ validatorPublicKey: validator.publicKey, faucetAddress: faucet, time: TIME })));
  const { db, executor } = await openChain(t.testdir());
  t.teardown(() => db.close());
  const head = await executor.initGenesis(toGenesisState(g));
  t.equal(head.chainId, 'hallmark-devnet');
  t.equal(head.height, 0);
  t.equal(head.time, TIME);
  const account = await executor.getAccount(faucet);
  t.equal(account.balance, DEVNET_FAUCET_BALANCE);
  t.equal(account.nonce, 0);
  t.equal((await executor.getAccount(addressOf(validator.publicKey))).balance, 0n, 'only the faucet is funded');
});
