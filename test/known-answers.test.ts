/**
 * Known-answer vectors: a fixed sequence of blocks (transfers good and bad, a contract deploy,
 * calls that write, revert and run out of gas, equivocation evidence, commits signed by four
 * validators) replayed on a fresh database, checked against transaction hashes, block hashes,
 * state roots and receipts roots written down once. They are the regression net for every change
 * that must not change the chain: a refactor that moves code, a faster tree, a new codec. If one
 * of these constants has to change, the protocol version has to change with it.
 *
 * Protocol 1's vectors stay as they were when protocol 2 (the model registry) came, and protocol
 * 2's when protocol 3 (Groth16 proofs) came: a binary that runs them all must reach them still.
 * Protocol 2's are the same sequence then a block of registry operations; protocol 3's add a block
 * of verification keys and calls carrying proofs.
 *
 * The contract is kept here as bytes, not WAT, so a new wabt cannot move the vectors.
 */
import t, { type Test } from 'tap';
import { addressOf } from '../chain/address.ts';
import { blockHash } from '../chain/block.ts';
import { fromHex, toHex } from '../chain/bytes.ts';
import type { DuplicateVoteEvidence } from '../chain/evidence.ts';
import type { KeyPair } from '../chain/keys.ts';
import { CODEC_LIMITS } from '../chain/block-rules.ts';
import { PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '../chain/protocol.ts';
import { encodeReceipt, receiptsRoot } from '../chain/receipt.ts';
import { signTransaction, type AttachedProof, type Payload } from '../chain/tx.ts';
import { PREVOTE } from '../chain/vote.ts';
import { contractAddress } from '../execution/contracts.ts';
import { fakeModel, registerOp } from './fixtures/models.ts';
import { zkFixture } from './fixtures/zk.ts';
import { CHAIN_ID, consensusBlock, openChain, signCommit, signVote, testAccounts, testGenesis, testValidators } from './fixtures/chain.ts';

/**
 * A 303-byte module compiled once by wabt from: imports storage_read, storage_write, return_data
 * and revert; memory 1..1 with "count" at 0 and "no way" at 16; `init` does nothing; `increment`
 * reads the u64 at "count" (0 when absent), adds 1, writes it back and returns it; `fail` writes
 * "count" then reverts with "no way"; `spin` loops forever.
 */
const COUNTER_WASM = fromHex(
  '0061736d0100000001180460047f7f7f7f017f60047f7f7f7f0060027f7f00600000025b040868616c6c6d61726b0c73' +
  '746f726167655f7265616400000868616c6c6d61726b0d73746f726167655f777269746500010868616c6c6d61726b0b' +
  '72657475726e5f6461746100020868616c6c6d61726b06726576657274000203050403030303050401010101072b0506' +
  '6d656d6f7279020004696e6974000409696e6372656d656e740005046661696c0006047370696e00070a5c0402000b3c' +
  '004100410541c00041081000417f46044041c00042003703000b41c00041c00029030042017c3703004100410541c000' +
  '4108100141c000410810020b1200410041054110410810014110410610030b070003400c000b0b0b16020041000b0563' +
  '6f756e740041100b066e6f20776179',
);

/** Protocol 1: the chain before the model registry. A binary that runs 1 must still reach these. */
const EXPECTED = {
  protocolVersion: 1,
  contract: '587f0e34b435fd6a17ed68631ed5119a12357ed8',
  txHashes: [
    '904b9afb991c2afe1d4ec192b4134ab98be1a99fffa0d3fd7f3376b4ce6fa31c',
    'dee8c5c1189b5e4258e6e881107345d518eada39dbe0865bcc7450058f8787e8',
    '51347ed0535bc26fb8ba0f4feab06ea0ec8309cddbee44a9fb66a44bace7af69',
    '6b96773b190295ca34f9a12f39b6145c9daaceb13a06b516933722d4c0d1561c',
    '7d541a47ccf1f0bc9a8ab6f996e043be2d5cbd5fa8861bf19032e8b3b0bb9c97',
    '7b36dbc033e7db08936f70b04a5b42192a80893d8e667a0ea0c576df446045ed',
    '370254ee8ecd2fa04f59d360610fe9657ad005f145de92e6bf5e88c21e8206ec',
    '61f260835d4345d60b613b81e7bf1a887100f9dee415d069d0ed38a3fb179f73',
    'b79e897bc92b09b42580acbee09d4c8f1b4957c5aa4fcd7dae29256789fe92f7',
    '0be507e1346741e64d21450c960ebfbef321a863cb624b8979d232a4bfdb2289',
    '7d2725524987b7435fa41a4695e4a83b56c93eee448ea2ba2a16f6a50cc04ddf',
  ],
  blocks: [
    {
      hash: 'ff86b450b7e27e30061d760e3a68783f4585fcd44a4900faaa1fa4fc71789ed9',
      stateRoot: 'd50faaf0e7e4aaea8d13dbf828ef532a7c8f6a028c3d99ea524410bdd75b286d',
      receiptsRoot: '4ee9b2b6c81e6de956b01a8f92908f657647876ab8bb2e5d899b4068b78ddf18',
      gasUsed: [1102250,  1102220], status: [0,  0],
    },
    {
      hash: '9a1dd1a41d680e1e2424a1d619562be55b8c45d8a6ac6204b04e92e68209ffe4',
      stateRoot: 'e59cbaabcecaa9c0dbd4c1c181e3fb4604172ef22b075ed8db2f60854228f617',
      receiptsRoot: 'f9bbec186e167b09e984533fcaccd80df7b55c7deffe2349c8042092346e146e',
      gasUsed: [1618605], status: [0],
    },
    {
      hash: 'd5cbb494e6734bb35fd9f3f80a24473ffb6a188223fa08a461ef34348e9e08fb',
      stateRoot: 'c23d00a17136490d3bb4aba8a8bb2fd61deae2da41a5ffba97afbcb766b3cd20',
      receiptsRoot: '19bdfea2766b6d7d400cd46690357d52ffd389b467559d42b3e60f9c7cf84ad0',
      gasUsed: [1765076,  1765089,  1514086,  3000000], status: [0,  0,  8,  8],
    },
    {
      hash: '8286725a40b662b0cdc656906c19d82ea79102b469a0e0ecf14c1fd9a0aeb494',
      stateRoot: '6957e5b35db52a91fed87d61bffb57671b9c210025a6748d82c05b94000977ee',
      receiptsRoot: 'a2bc17a25b763c6b848e2f06f15968b49c76d750572c1af8d3162ee0d75bf886',
      gasUsed: [0,  1102340,  10,  1765089], status: [3,  5,  6,  0],
    },
    {
      hash: '7ace8a53e2e11e8a5c263cc2b4042547f657e343cfe5f09e25303ff4e8fc2377',
      stateRoot: '6957e5b35db52a91fed87d61bffb57671b9c210025a6748d82c05b94000977ee',
      receiptsRoot: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      gasUsed: [], status: [],
    },
  ],
};

/** Protocol 2: the same sequence, then a block of registry operations (the last two refused). */
const EXPECTED_V2: typeof EXPECTED = {
  protocolVersion: 2,
  contract: '587f0e34b435fd6a17ed68631ed5119a12357ed8',
  txHashes: [
    '904b9afb991c2afe1d4ec192b4134ab98be1a99fffa0d3fd7f3376b4ce6fa31c',
    'dee8c5c1189b5e4258e6e881107345d518eada39dbe0865bcc7450058f8787e8',
    '51347ed0535bc26fb8ba0f4feab06ea0ec8309cddbee44a9fb66a44bace7af69',
    '6b96773b190295ca34f9a12f39b6145c9daaceb13a06b516933722d4c0d1561c',
    '7d541a47ccf1f0bc9a8ab6f996e043be2d5cbd5fa8861bf19032e8b3b0bb9c97',
    '7b36dbc033e7db08936f70b04a5b42192a80893d8e667a0ea0c576df446045ed',
    '370254ee8ecd2fa04f59d360610fe9657ad005f145de92e6bf5e88c21e8206ec',
    '61f260835d4345d60b613b81e7bf1a887100f9dee415d069d0ed38a3fb179f73',
    'b79e897bc92b09b42580acbee09d4c8f1b4957c5aa4fcd7dae29256789fe92f7',
    '0be507e1346741e64d21450c960ebfbef321a863cb624b8979d232a4bfdb2289',
    '7d2725524987b7435fa41a4695e4a83b56c93eee448ea2ba2a16f6a50cc04ddf',
    '5c98a91562a4dbb04eeb775e32c84b3ada450080c8fb2992148e491eb06c14b2',
    '01b86380ef32066aa02e8d352120f848a703d60c4daa6951d645ac351a300762',
    'f1b22004962b90f226fcf1b9a26b4f62e56fca6e7f68260ef0470c2ab239d95e',
    'c6207037c9c168a83ffa2f9a5f8122fd57f0aed84c299159bbb270d23dea8f0e',
    '92ebfffa3e7defc20c787d9ec204ea943201172b792a09b27b0a8160506aa9ab',
    '7baafc7307b2cb347c4756ef0c39ea071729c7a771a4dd4ec661583d633914e2',
  ],
  blocks: [
    {
      hash: 'a977f4d481edff1871fdc06b7e82138e329a3b0d848048c235e9194075e2756d',
      stateRoot: 'd50faaf0e7e4aaea8d13dbf828ef532a7c8f6a028c3d99ea524410bdd75b286d',
      receiptsRoot: '4ee9b2b6c81e6de956b01a8f92908f657647876ab8bb2e5d899b4068b78ddf18',
      gasUsed: [1102250, 1102220], status: [0, 0],
    },
    {
      hash: '09520cd5ac7692fec538f466eaca454679d7b01b05d642a0dbc56e19667395bf',
      stateRoot: 'e59cbaabcecaa9c0dbd4c1c181e3fb4604172ef22b075ed8db2f60854228f617',
      receiptsRoot: 'f9bbec186e167b09e984533fcaccd80df7b55c7deffe2349c8042092346e146e',
      gasUsed: [1618605], status: [0],
    },
    {
      hash: 'a088ca94aeb70a0b65d7571873d4e75ca8a8b167c398343ba6ce26aaea5a3f38',
      stateRoot: 'c23d00a17136490d3bb4aba8a8bb2fd61deae2da41a5ffba97afbcb766b3cd20',
      receiptsRoot: '19bdfea2766b6d7d400cd46690357d52ffd389b467559d42b3e60f9c7cf84ad0',
      gasUsed: [1765076, 1765089, 1514086, 3000000], status: [0, 0, 8, 8],
    },
    {
      hash: '6565663bc86e7eea75269f3d704262f0d7ed4614623ef74273d43c728d7d6ce3',
      stateRoot: '6957e5b35db52a91fed87d61bffb57671b9c210025a6748d82c05b94000977ee',
      receiptsRoot: 'a2bc17a25b763c6b848e2f06f15968b49c76d750572c1af8d3162ee0d75bf886',
      gasUsed: [0, 1102340, 10, 1765089], status: [3, 5, 6, 0],
    },
    {
      hash: 'ee8acc00172be69820cec7d7954123b5a8e7ba332772714e8cb8dc1670ff6541',
      stateRoot: '6957e5b35db52a91fed87d61bffb57671b9c210025a6748d82c05b94000977ee',
      receiptsRoot: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      gasUsed: [], status: [],
    },
    {
      hash: '5c373730def09840a1c4fdd7c4ebde38871039f4982282270b906e4d065fcc15',
      stateRoot: '918712580eaa731a0faffbc828af7cfd12cb66c2149e1a2a7e17e8d3f25ad029',
      receiptsRoot: 'c465c2522ac40c175f7d1c1fc122caed1f5cf3dad280e21d5826ec7cc406da35',
      gasUsed: [2050775, 2286780, 2050775, 1502580, 1702745, 1202565], status: [0, 0, 10, 0, 0, 10],
    },
  ],
};

/** Protocol 3: protocol 2's sequence, then a block of Groth16 key registrations and calls carrying proofs. */
const EXPECTED_V3: typeof EXPECTED = {
  protocolVersion: 3,
  contract: '587f0e34b435fd6a17ed68631ed5119a12357ed8',
  txHashes: [
    '904b9afb991c2afe1d4ec192b4134ab98be1a99fffa0d3fd7f3376b4ce6fa31c',
    'dee8c5c1189b5e4258e6e881107345d518eada39dbe0865bcc7450058f8787e8',
    '51347ed0535bc26fb8ba0f4feab06ea0ec8309cddbee44a9fb66a44bace7af69',
    '6b96773b190295ca34f9a12f39b6145c9daaceb13a06b516933722d4c0d1561c',
    '7d541a47ccf1f0bc9a8ab6f996e043be2d5cbd5fa8861bf19032e8b3b0bb9c97',
    '7b36dbc033e7db08936f70b04a5b42192a80893d8e667a0ea0c576df446045ed',
    '370254ee8ecd2fa04f59d360610fe9657ad005f145de92e6bf5e88c21e8206ec',
    '61f260835d4345d60b613b81e7bf1a887100f9dee415d069d0ed38a3fb179f73',
    'b79e897bc92b09b42580acbee09d4c8f1b4957c5aa4fcd7dae29256789fe92f7',
    '0be507e1346741e64d21450c960ebfbef321a863cb624b8979d232a4bfdb2289',
    '7d2725524987b7435fa41a4695e4a83b56c93eee448ea2ba2a16f6a50cc04ddf',
    '5c98a91562a4dbb04eeb775e32c84b3ada450080c8fb2992148e491eb06c14b2',
    '01b86380ef32066aa02e8d352120f848a703d60c4daa6951d645ac351a300762',
    'f1b22004962b90f226fcf1b9a26b4f62e56fca6e7f68260ef0470c2ab239d95e',
    'c6207037c9c168a83ffa2f9a5f8122fd57f0aed84c299159bbb270d23dea8f0e',
    '92ebfffa3e7defc20c787d9ec204ea943201172b792a09b27b0a8160506aa9ab',
    '7baafc7307b2cb347c4756ef0c39ea071729c7a771a4dd4ec661583d633914e2',
    '2c8ca2747767418c4dcba13546ae2ea4d7be08fac66f639091e5f0e21d975abe',
    '903d41939976f655d398ca542ed7e2157a66f35389a593c8959fb7e222b92c6e',
    '011280e66b75e3dc8f2eddc940d5bfc03ad74588c2ca3a27a46f4c8ef6474f12',
    '917e1d26725d53bf3eeb4646027575544b7303a3896977f6e5dc425fb4582c08',
    '8cd44fb4b27f69d766b25f00ea30e84c05f1f2f7479f2dcf765cf53b38a71e53',
    '5a2b4e0a91641b5efadff21fcbba01eb312278010f77892d3c88b84ee42a066b',
  ],
  blocks: [
    {
      hash: 'bc9e69ab4c3b596dd44310569dc13ffe450056c91c68ab39cc54466b7950e173',
      stateRoot: 'd50faaf0e7e4aaea8d13dbf828ef532a7c8f6a028c3d99ea524410bdd75b286d',
      receiptsRoot: '4ee9b2b6c81e6de956b01a8f92908f657647876ab8bb2e5d899b4068b78ddf18',
      gasUsed: [1102250,  1102220], status: [0,  0],
    },
    {
      hash: 'b6183be0768817a43b4514828dc29acbda678fec29eb247d20fc0f817641a9c3',
      stateRoot: 'e59cbaabcecaa9c0dbd4c1c181e3fb4604172ef22b075ed8db2f60854228f617',
      receiptsRoot: 'f9bbec186e167b09e984533fcaccd80df7b55c7deffe2349c8042092346e146e',
      gasUsed: [1618605], status: [0],
    },
    {
      hash: '3832d6797682e8b2638c6ea7a880a0d70438b84f3fdf5e8ad2eab71a592285c7',
      stateRoot: 'c23d00a17136490d3bb4aba8a8bb2fd61deae2da41a5ffba97afbcb766b3cd20',
      receiptsRoot: '19bdfea2766b6d7d400cd46690357d52ffd389b467559d42b3e60f9c7cf84ad0',
      gasUsed: [1765076,  1765089,  1514086,  3000000], status: [0,  0,  8,  8],
    },
    {
      hash: 'd8ecb9ff85e6fc720cbd96d52f74bcfc3b64267278d55d81e7a63c0b3351033c',
      stateRoot: '6957e5b35db52a91fed87d61bffb57671b9c210025a6748d82c05b94000977ee',
      receiptsRoot: 'a2bc17a25b763c6b848e2f06f15968b49c76d750572c1af8d3162ee0d75bf886',
      gasUsed: [0,  1102340,  10,  1765089], status: [3,  5,  6,  0],
    },
    {
      hash: '034937bac00abe0f473dcbed82b256951d982ab870a625bc9350caf0b614bfc2',
      stateRoot: '6957e5b35db52a91fed87d61bffb57671b9c210025a6748d82c05b94000977ee',
      receiptsRoot: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      gasUsed: [], status: [],
    },
    {
      hash: 'c880532eff1b1dd0a2249d989e5c70127e72cfbaf0e87211b5a320b9114d5939',
      stateRoot: '918712580eaa731a0faffbc828af7cfd12cb66c2149e1a2a7e17e8d3f25ad029',
      receiptsRoot: 'c465c2522ac40c175f7d1c1fc122caed1f5cf3dad280e21d5826ec7cc406da35',
      gasUsed: [2050775,  2286780,  2050775,  1502580,  1702745,  1202565], status: [0,  0,  10,  0,  0,  10],
    },
    {
      hash: '66abf67fcf85b056037e59a0febeb8c8d4b83d400b2b41b69500a5785b5e55ee',
      stateRoot: 'c93db7a499b8178a85205ef0db8d4bd1bbc157a392459943463072a3ff00d691',
      receiptsRoot: '78d0f1a2d5e5eb673639aca0ec0da2f5af43b009544a2e7d70ee2da060756131',
      gasUsed: [7274635,  7274635,  6883420,  38674944,  38012240,  19557320], status: [0,  11,  11,  0,  11,  11],
    },
  ],
};

/** Runs the fixed sequence (and `more` blocks after it) under `protocolVersion`; returns what it reached. */
async function replay(t: Test, protocolVersion: number, more: (ctx: { tx: TxMaker; to: (k: KeyPair) => Uint8Array; accounts: KeyPair[] }) => Step[] = () => []) {
  const vals = testValidators(4);
  const accounts = testAccounts(3) as [KeyPair, KeyPair, KeyPair];
  const [alice, bob, carol] = accounts;
  const chain = await openChain(t.testdir(), undefined, { validators: vals.set, limits: { ...CODEC_LIMITS, protocolVersion } });
  t.teardown(() => chain.db.close());
  const { executor } = chain;
  await executor.initGenesis(testGenesis(accounts, 1_000_000_000n));

  const nonces = new Map<KeyPair, number>();
  const txHashes: string[] = [];
  const tx: TxMaker = (who, payload, gasLimit = 5_000_000, fee = 3n, nonce) => {
    const n = nonce ?? nonces.get(who) ?? 0;
    if (nonce === undefined) nonces.set(who, n + 1);
    const signed = signTransaction({ chainId: CHAIN_ID, sender: who.publicKey, nonce: n, fee, gasLimit, payload }, who.secretKey);
    txHashes.push(toHex(signed.hash));
    return signed.bytes;
  };
  const to = (k: KeyPair) => addressOf(k.publicKey);
  const counter = contractAddress(to(carol), 0);
  const call = (method: string, gasLimit = 5_000_000) => tx(alice, { kind: 'call', contract: counter, method, args: new Uint8Array(), value: 0n }, gasLimit);
  const equivocation: DuplicateVoteEvidence = {
    first: signVote(CHAIN_ID, vals.keys[1]!, { type: PREVOTE, height: 2, round: 0, blockHash: new Uint8Array(32).fill(1) }),
    second: signVote(CHAIN_ID, vals.keys[1]!, { type: PREVOTE, height: 2, round: 0, blockHash: new Uint8Array(32).fill(2) }),
  };

  const sequence: Step[] = [
    { txs: () => [tx(alice, { kind: 'transfer', to: to(bob), amount: 1_000n }), tx(bob, { kind: 'transfer', to: to(carol), amount: 7n }, 5_000_000, 9n)] },
    { txs: () => [tx(carol, { kind: 'deploy', code: COUNTER_WASM, args: new Uint8Array() }, 60_000_000)] },
    { txs: () => [call('increment'), call('increment'), call('fail'), call('spin', 3_000_000)] },
    {
      txs: () => [
        tx(alice, { kind: 'transfer', to: to(bob), amount: 1n }, 5_000_000, 3n, 99),          // bad nonce
        tx(bob, { kind: 'transfer', to: to(alice), amount: 10n ** 15n }),                  // insufficient funds
        tx(carol, { kind: 'transfer', to: to(alice), amount: 5n }, 10),                    // out of gas
        call('increment'),
      ],
      evidence: [equivocation],
    },
    { txs: () => [], round: 2 },
    ...more({ tx, to, accounts }),
  ];

  const blocks: typeof EXPECTED.blocks = [];
  for (const step of sequence) {
    const block = consensusBlock(executor, vals, step.txs(), { round: step.round, evidence: step.evidence });
    const applied = await executor.applyBlock(block, signCommit(vals, block.header.height, step.round ?? 0, blockHash(block.header)));
    blocks.push({
      hash: toHex(blockHash(block.header)),
      stateRoot: toHex(applied.stateRoot),
      receiptsRoot: toHex(receiptsRoot(applied.receipts.map(encodeReceipt))),
      gasUsed: applied.receipts.map((r) => r.gasUsed),
      status: applied.receipts.map((r) => r.status),
    });
  }
  if (process.env.HALLMARK_PRINT_VECTORS) console.log(JSON.stringify({ protocolVersion, contract: toHex(counter), txHashes, blocks }, null, 2));
  return { contract: toHex(counter), txHashes, blocks, executor, vals, tx };
}

type TxMaker = (who: KeyPair, payload: Payload, gasLimit?: number, fee?: bigint, nonce?: number) => Uint8Array;
interface Step { txs: () => Uint8Array[]; evidence?: DuplicateVoteEvidence[]; round?: number }

function check(t: Test, got: Awaited<ReturnType<typeof replay>>, expected: typeof EXPECTED) {
  t.equal(got.contract, expected.contract, 'contract address');
  t.same(got.txHashes, expected.txHashes, 'transaction hashes');
  t.equal(got.blocks.length, expected.blocks.length);
  got.blocks.forEach((b, i) => t.same(b, expected.blocks[i], `height ${i + 1}: block hash, state root, receipts root, gas and status`));
}

t.test('protocol 1: a fixed block sequence reaches the same hashes and roots as written down', async (t) => {
  t.ok(SUPPORTED_PROTOCOL_VERSIONS.includes(EXPECTED.protocolVersion), 'this binary still runs protocol 1');
  const got = await replay(t, 1);
  check(t, got, EXPECTED);
  // Protocol 1 has no model registry: a block carrying a registration is invalid.
  const [alice] = testAccounts(1) as [KeyPair];
  const block = consensusBlock(got.executor, got.vals, [got.tx(alice, { kind: 'model', op: registerOp('v1') }, 50_000_000, 50_000_000n)]);
  t.throws(() => got.executor.validateBlock(block), { message: /model registry transactions need protocol version 2; this chain runs version 1/ });
});

type More = Parameters<typeof replay>[2] & {};

/** Protocol 2's block: registry operations, the last two refused. */
const modelSteps: More = ({ tx, to, accounts: [alice, bob] }) => {
  const base = registerOp('known-base', fakeModel('known-base', { tensors: true }));
  const child = registerOp('known-child', { parents: [{ fingerprint: base.fingerprint, relation: 'quantized' }] });
  return [{
    txs: () => [
      tx(alice!, { kind: 'model', op: base }, 10_000_000),
      tx(bob!, { kind: 'model', op: child }, 10_000_000),
      tx(bob!, { kind: 'model', op: base }, 10_000_000),                                    // duplicate: refused
      tx(bob!, { kind: 'model', op: { op: 'attest', fingerprint: base.fingerprint, kind: 'eval', value: 'ok', digest: null, uri: null } }, 10_000_000),
      tx(alice!, { kind: 'model', op: { op: 'transfer', fingerprint: base.fingerprint, to: to(bob!) } }, 10_000_000),
      tx(alice!, { kind: 'model', op: { op: 'revoke', fingerprint: base.fingerprint, reason: 'not mine' } }, 10_000_000), // not the owner now
    ],
  }];
};

/** Protocol 3's block: verification keys and calls carrying proofs, good and refused. */
const zkSteps: More = ({ tx, accounts: [alice, bob, carol] }) => {
  const { key, proofs } = zkFixture('multiplier');
  const counter = contractAddress(addressOf(carol!.publicKey), 0);
  const proven = (who: KeyPair, attached: AttachedProof[]) => tx(who, { kind: 'call', contract: counter, method: 'increment', args: new Uint8Array(), value: 0n, proofs: attached }, 40_000_000);
  const tampered = { ...proofs[1]!, signals: proofs[2]!.signals };
  return [{
    txs: () => [
      tx(alice!, { kind: 'zk_key', key }, 10_000_000),
      tx(bob!, { kind: 'zk_key', key }, 10_000_000),                                         // registered already: refused
      tx(carol!, { kind: 'zk_key', key: key.slice(0, 100) }, 10_000_000),                     // malformed: refused
      proven(alice!, [proofs[0]!, proofs[3]!]),
      proven(bob!, [proofs[4]!, tampered]),                                                   // second proof invalid: refused
      proven(carol!, [{ ...proofs[5]!, keyHash: new Uint8Array(32).fill(7) }]),               // unknown key: refused
    ],
  }];
};

t.test('protocol 2: the same sequence, then the model registry, reaches the hashes and roots written down', async (t) => {
  t.ok(SUPPORTED_PROTOCOL_VERSIONS.includes(EXPECTED_V2.protocolVersion), 'this binary still runs protocol 2');
  const got = await replay(t, 2, modelSteps);
  check(t, got, EXPECTED_V2);
  // Protocol 2 has no Groth16 proofs: a block carrying a key registration is invalid.
  const [alice] = testAccounts(1) as [KeyPair];
  const block = consensusBlock(got.executor, got.vals, [got.tx(alice, { kind: 'zk_key', key: zkFixture('multiplier').key }, 10_000_000)]);
  t.throws(() => got.executor.validateBlock(block), { message: /need protocol version 3; this chain runs version 2/ });
});

t.test('protocol 3: the same sequence, the registry, then Groth16 keys and proofs, reach the hashes and roots written down', async (t) => {
  t.equal(PROTOCOL_VERSION, EXPECTED_V3.protocolVersion, 'the vectors are for the version new chains run');
  const got = await replay(t, 3, (ctx) => [...modelSteps(ctx), ...zkSteps(ctx)]);
  check(t, got, EXPECTED_V3);
});
