/** tx_*: submitting transactions and reading committed ones. */
import { z } from 'zod';
import { toHex } from '../../chain/bytes.ts';
import { CodecError } from '../../chain/codec.ts';
import { sha256 } from '../../chain/hash.ts';
import { decodeSignedTransaction, MAX_TX_BYTES } from '../../chain/tx.ts';
import { MempoolError } from '../../mempool/mempool.ts';
import { RpcError } from '../errors.ts';
import { Hash32, hex, hexOut, ReceiptJson, receiptJson, TxJson, txJson, Uint } from '../json.ts';
import { defineRpcMethod, hexIn } from '../method.ts';

function refused(err: MempoolError): RpcError {
  return new RpcError('tx_refused', `transaction refused: ${err.message}`, { reason: err.code });
}

export const DEFAULT_WAIT_MS = 10_000;
export const txBroadcast = defineRpcMethod({
  name: 'tx_broadcast',
  summary: 'Submits a signed transaction to the mempool, and optionally waits for it to be committed.',
  description: "wait 'none' returns once the bytes decode (admission continues in the background; a refusal is only logged), " +
    "'checked' (default) once the mempool admitted it, 'committed' once a block included it (then with its receipt). " +
    "With 'committed', a transaction already pending or already committed is waited for rather than refused.",
  params: z.strictObject({
    tx: hexIn('signed transaction encoding', { maxBytes: MAX_TX_BYTES }),
    wait: z.enum(['none', 'checked', 'committed']).optional().describe("when to answer (default 'checked')"),
    timeout_ms: Uint.optional().describe(`how long 'committed' waits (default ${DEFAULT_WAIT_MS}, at most the server timeout)`),
  }),
  result: z.object({
    hash: Hash32,
    status: z.enum(['submitted', 'checked', 'committed']),
    height: Uint.optional(),
    index: Uint.optional(),
    receipt: ReceiptJson.optional(),
  }),
  errors: ['tx_refused', 'wait_timeout'],
  async handler(node, p, ctx) {
    const wait = p.wait ?? 'checked';
    if (p.timeout_ms !== undefined && p.timeout_ms > ctx.timeoutMs) {
      throw RpcError.invalidParams([{ path: 'timeout_ms', message: `at most ${ctx.timeoutMs} (this server's call timeout), got ${p.timeout_ms}` }]);
    }
    const timeoutMs = p.timeout_ms ?? Math.min(DEFAULT_WAIT_MS, ctx.timeoutMs);
    if (wait === 'none') {
      // The bytes must decode before the reply; the mempool decodes them again in the background.
      let hashHex: string;
      try {
        hashHex = toHex(decodeSignedTransaction(p.tx).hash);
      } catch (err) {
        if (err instanceof CodecError) throw refused(new MempoolError('malformed', err.message));
        throw err;
      }
      node.submitTx(p.tx).catch((err: unknown) => {
        ctx.log?.warn('tx_broadcast: transaction refused after the reply was sent', {
          hash: hashHex, reason: err instanceof MempoolError ? err.code : 'internal', error: (err as Error)?.message,
        });
      });
      return { hash: hashHex, status: 'submitted' as const };
    }
    // The mempool decodes the bytes (a malformed transaction is its `malformed` refusal).
    let hash: Uint8Array;
    try {
      hash = (await node.submitTx(p.tx)).hash;
    } catch (err) {
      if (!(err instanceof MempoolError)) throw err;
      hash = sha256(p.tx);
      const waitAnyway = wait === 'committed' && (err.code === 'duplicate' || (err.code === 'nonce_used' && (await node.tx(hash)) !== undefined));
      if (!waitAnyway) throw refused(err);
    }
    const hashHex = toHex(hash);
    if (wait === 'checked') return { hash: hashHex, status: 'checked' as const };
    let inclusion;
    try {
      inclusion = await node.waitForTx(hash, timeoutMs);
    } catch {
      throw new RpcError('wait_timeout', `transaction ${hashHex} was admitted but not committed within ${timeoutMs} ms; look it up later with tx_get`, { hash: hashHex, timeout_ms: timeoutMs });
    }
    return { hash: hashHex, status: 'committed' as const, height: inclusion.height, index: inclusion.index, receipt: receiptJson(inclusion.receipt) };
  },
});

export const txGet = defineRpcMethod({
  name: 'tx_get',
  summary: 'A committed transaction by hash, with its position and receipt.',
  description: 'tx is null (and raw holds the bytes) for a transaction that was included but does not decode.',
  params: z.strictObject({ hash: hexIn('transaction hash', { bytes: 32 }) }),
  result: z.object({
    hash: Hash32,
    height: Uint,
    index: Uint,
    tx: TxJson.nullable(),
    raw: hexOut('transaction bytes').optional().describe('only when tx is null'),
    receipt: ReceiptJson,
  }),
  errors: ['not_found'],
  async handler(node, p) {
    const stored = await node.tx(p.hash);
    const hashHex = toHex(p.hash);
    if (stored === undefined) {
      const pending = node.pending(p.hash);
      throw RpcError.notFound(pending ? `transaction ${hashHex} is pending in the mempool, not committed yet` : `no committed transaction ${hashHex}`, { hash: hashHex, pending });
    }
    return {
      hash: hashHex,
      height: stored.height,
      index: stored.index,
      tx: stored.tx === null ? null : txJson(stored.tx),
      ...(stored.tx === null ? { raw: hex(stored.raw) } : {}),
      receipt: receiptJson(stored.receipt),
    };
  },
});
