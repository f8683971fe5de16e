/**
 * Mempool admission rate against its own floor: admitting a signed transfer costs a decode, a
 * signature check, an account read and the pool's bookkeeping; the signature check alone, on the
 * same transactions in the same run, is the baseline. Also: reaping a full default-sized pool.
 */
import { toHex } from '../chain/bytes.ts';
import { addressOf } from '../chain/address.ts';
import { publicKeyOf, secretKeyFromSeed } from '../chain/keys.ts';
import { decodeSignedTransaction, signTransaction, verifyTransactionSignature, type SignedTransaction } from '../chain/tx.ts';
import type { Account, AccountReader } from '../execution/account.ts';
import { Mempool } from '../mempool/mempool.ts';
import { rate, report } from './harness.ts';

const CHAIN = 'hallmark-bench';
// Below the signature module's key cache (4096), so both measurements get warm public keys.
const SENDERS = 1000;
const NONCES = 20;
const BATCH = 250;

const accounts = new Map<string, Account>();
const reader: AccountReader = {
  getAccount: async (address) => accounts.get(toHex(address)) ?? { balance: 0n, nonce: 0 },
};

// Round-robin by nonce, so every sender's transactions arrive in nonce order.
const keys = Array.from({ length: SENDERS }, (_, i) => {
  const secretKey = secretKeyFromSeed(`mempool-bench/${i}`);
  const publicKey = publicKeyOf(secretKey);
  accounts.set(toHex(addressOf(publicKey)), { balance: 1n << 40n, nonce: 0 });
  return { secretKey, publicKey };
});
const sink = addressOf(keys[0]!.publicKey);
const wire: Uint8Array[] = [];
for (let nonce = 0; nonce < NONCES; nonce++) {
  for (const k of keys) {
    const fee = BigInt(1 + ((nonce * 7919 + wire.length * 104729) % 1000));
    wire.push(signTransaction({
      chainId: CHAIN, sender: k.publicKey, nonce, fee, gasLimit: 21_000,
      payload: { kind: 'transfer', to: sink, amount: 1000n },
    }, k.secretKey).bytes);
  }
}
const decoded: SignedTransaction[] = wire.map((b) => decodeSignedTransaction(b));

const config = { maxTxs: wire.length, maxBytes: 64 * 1024 * 1024 };
let pool = new Mempool({ chainId: CHAIN, accounts: reader, config });
let next = 0;
async function admitBatch(): Promise<number> {
  for (let i = 0; i < BATCH; i++) {
    if (next === wire.length) {
      pool = new Mempool({ chainId: CHAIN, accounts: reader, config });
      next = 0;
    }
    await pool.add(wire[next++]!);
  }
  return BATCH;
}

let nextSig = 0;
function verifyBatch(): number {
  for (let i = 0; i < BATCH; i++) {
    if (nextSig === decoded.length) nextSig = 0;
    if (!verifyTransactionSignature(decoded[nextSig++]!)) throw new Error('bench: a signature failed');
  }
  return BATCH;
}

// Alternate the two measurements and keep each one's best, so drift hits both alike.
let admit = 0;
let verify = 0;
for (let round = 0; round < 2; round++) {
  verify = Math.max(verify, await rate(verifyBatch, 2000));
  admit = Math.max(admit, await rate(admitBatch, 2000));
}
const common = { senders: SENDERS, txBytes: wire[0]!.length };
report({ bench: 'mempool', name: 'admit', value: admit, unit: 'tx/s', ...common });
report({ bench: 'mempool', name: 'verify_signature', value: verify, unit: 'tx/s', ...common });
report({ bench: 'mempool', name: 'admit_vs_signature', value: admit / verify, unit: 'ratio' });

// Reap a block's worth from a full default-sized pool (5000 pending from 1000 senders).
const full = new Mempool({ chainId: CHAIN, accounts: reader });
for (let i = 0; i < 5000; i++) await full.add(wire[i]!);
const reaps = await rate(() => {
  if (full.reap({ maxTxs: 5000, maxBytes: 32 * 1024 * 1024 }).length !== 5000) throw new Error('bench: short reap');
}, 1500);
report({ bench: 'mempool', name: 'reap_5000', value: reaps, unit: 'reap/s', pending: full.size, senders: SENDERS });
