/** Text output for people: aligned rows, transactions, receipts and events, return values as ABI values. */
import { toHex } from '../chain/bytes.ts';
import type { RpcResult } from '../rpc/methods.ts';
import { decodeValues, formatValue } from '../vm/abi.ts';
import type { KeyInfo } from './keystore.ts';

export type Receipt = RpcResult<'tx_get'>['receipt'];
export type TxPayload = NonNullable<RpcResult<'tx_get'>['tx']>['payload'];

/** Aligned `label  value` lines; undefined values are left out, null shows as '-'. */
export function rows(pairs: [string, unknown][], indent = ''): string {
  const shown = pairs.filter(([, v]) => v !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v === null ? '-' : String(v)}\n`).join('');
}

export function keyJson(k: KeyInfo): Record<string, string> {
  return { name: k.name, address: k.address, public_key: toHex(k.publicKey) };
}

/** What a transaction does, as rows. */
export function payloadRows(p: TxPayload): [string, unknown][] {
  switch (p.type) {
    case 'transfer': return [['type', p.type], ['to', p.to], ['amount', p.amount]];
    case 'deploy': return [['type', p.type], ['code hash', p.code_hash]];
    case 'call': return [['type', p.type], ['contract', p.contract], ['method', p.method], ['value', p.value], ...(p.proofs ? [['proofs', p.proofs.length] as [string, unknown]] : [])];
    case 'model': return [['type', `model ${p.op}`], ['target', p.target]];
    case 'zk_key': return [['type', 'zk key'], ['key hash', p.key_hash], ['public signals', p.n_public]];
  }
}

/** Why a committed transaction failed, or null if it did not (or is not committed). */
export function receiptFailed(receipt: Receipt | undefined): string | null {
  if (receipt === undefined || receipt.code === 0) return null;
  return receipt.error !== undefined && receipt.error !== '' ? receipt.error : `status ${receipt.status}`;
}

/** Return data as ABI values when it decodes as such, else as hex. */
export function returnText(hex: string): string {
  if (hex === '') return '-';
  const bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
  try {
    return decodeValues(bytes).map(formatValue).join(' ');
  } catch {
    return `0x${hex}`;
  }
}

export function eventsText(events: Receipt['events'] | undefined): string {
  if (events === undefined || events.length === 0) return '';
  return 'events\n' + events.map((e) => `  ${e.type} ${e.attributes.map((a) => `${a.key}=${a.value}`).join(' ')}\n`).join('');
}
