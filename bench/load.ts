/** Load for the node benchmarks: transfers signed ahead of time, sent as JSON-RPC batches. */
import type { Address } from '../chain/address.ts';
import { toHex } from '../chain/bytes.ts';
import type { KeyPair } from '../chain/keys.ts';
import { signTransaction, type SignedTransaction } from '../chain/tx.ts';

/** A little over a transfer's intrinsic gas (~1.1M with these sizes): blocks hold as many as max_gas allows. */
const TRANSFER_GAS = 1_110_000;

/** For each nonce in [fromNonce, fromNonce + nonces), one transfer of 1 from every sender to `sink`. */
export function presignedTransfers(chainId: string, senders: readonly KeyPair[], sink: Address, fromNonce: number, nonces: number): SignedTransaction[] {
  const out: SignedTransaction[] = [];
  for (let nonce = fromNonce; nonce < fromNonce + nonces; nonce++) {
    for (const k of senders) {
      out.push(signTransaction({
        chainId, sender: k.publicKey, nonce, fee: BigInt(TRANSFER_GAS), gasLimit: TRANSFER_GAS,
        payload: { kind: 'transfer', to: sink, amount: 1n },
      }, k.secretKey));
    }
  }
  return out;
}

let id = 1;

/**
 * How long a client waits before sending again what a full pool refused: 100 ms, doubling with
 * each refusal of the same batch up to 1 s. The pool holds seconds of blocks at saturation, so it
 * stays full; retrying every 20 ms made ~3 refusals per admission, each a request the node parsed
 * and answered, which is a client's cost to the node rather than the node's own.
 */
const FULL_RETRY_MS = 100;
const FULL_RETRY_MAX_MS = 1000;

/**
 * One JSON-RPC batch of tx_broadcast calls; throws if the batch or any call is refused, except
 * `mempool_full`: that is the node's backpressure (blocks execute while admissions go on), so those
 * are sent again once the pool has had a moment to drain. With wait 'committed', resolves with the
 * highest height they were committed at.
 */
export async function broadcast(url: string, txs: readonly SignedTransaction[], wait: 'checked' | 'committed'): Promise<number> {
  const slot = slotsOf(url);
  while (slot.active >= MAX_IN_FLIGHT) await new Promise<void>((r) => slot.queue.push(r));
  slot.active++;
  try {
    return await send(url, txs, wait);
  } finally {
    slot.active--;
    slot.queue.shift()?.();
  }
}

/**
 * Requests in flight per node, under the RPC server's per-client limits (16 requests, 32
 * connections): a latency phase whose commits lag queues here, and the wait counts in its latency.
 */
const MAX_IN_FLIGHT = 12;
const slots = new Map<string, { active: number; queue: (() => void)[] }>();
const slotsOf = (url: string) => {
  let s = slots.get(url);
  if (s === undefined) slots.set(url, (s = { active: 0, queue: [] }));
  return s;
};

async function send(url: string, txs: readonly SignedTransaction[], wait: 'checked' | 'committed'): Promise<number> {
  let pending = txs;
  let resent = false;
  let refusals = 0;
  let height = 0;
  for (let failures = 0; pending.length > 0;) {
    const body = pending.map((tx) => ({ jsonrpc: '2.0', id: id++, method: 'tx_broadcast', params: { tx: toHex(tx.bytes), wait } }));
    let out: { error?: { message: string; data?: { reason?: string } }; result?: { height?: number } }[];
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      out = await res.json() as typeof out;
    } catch (err) {
      // A kept-alive connection the server closed as we reused it: sent again (its transactions
      // may have been admitted already, which a resend then finds).
      if (++failures > 5) throw err;
      resent = true;
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    if (!Array.isArray(out)) throw new Error(`tx_broadcast batch refused: ${JSON.stringify(out)}`);
    const full = out.flatMap((r, i) => (r.error?.data?.reason === 'mempool_full' ? [pending[i]!] : []));
    const ok = (reason: string | undefined) => reason === 'mempool_full' || (resent && (reason === 'duplicate' || reason === 'nonce_used'));
    const bad = out.find((r) => r.error && !ok(r.error.data?.reason));
    if (bad) throw new Error(`tx_broadcast failed: ${bad.error!.message}`);
    for (const r of out) height = Math.max(height, r.result?.height ?? 0);
    pending = full;
    if (pending.length > 0) await new Promise((r) => setTimeout(r, Math.min(FULL_RETRY_MAX_MS, FULL_RETRY_MS * 2 ** refusals++)));
  }
  return height;
}
