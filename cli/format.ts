/** Text output for people: aligned rows, events, return values as ABI values. */
import { toHex } from '../chain/bytes.ts';
import { decodeValues, formatValue } from '../vm/abi.ts';
import type { KeyInfo } from './keystore.ts';

/** Aligned `label  value` lines; undefined values are left out, null shows as '-'. */
export function rows(pairs: [string, unknown][], indent = ''): string {
  const shown = pairs.filter(([, v]) => v !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v === null ? '-' : String(v)}\n`).join('');
}

export function keyJson(k: KeyInfo): Record<string, string> {
  return { name: k.name, address: k.address, public_key: toHex(k.publicKey) };
}

export type Obj = Record<string, unknown>;
export const obj = (v: unknown): Obj => (v && typeof v === 'object' ? v as Obj : {});

export function receiptFailed(receipt: unknown): string | null {
  if (!receipt || typeof receipt !== 'object') return null;
  const r = receipt as Obj;
  const failed = (typeof r.code === 'number' && r.code !== 0) || (r.status !== undefined && r.status !== 'ok' && r.status !== 0);
  if (!failed) return null;
  return typeof r.error === 'string' && r.error !== '' ? r.error : `status ${String(r.status ?? r.code)}`;
}

/** Return data as ABI values when it decodes as such, else as hex. */
export function returnText(hex: unknown): string {
  if (typeof hex !== 'string' || hex === '') return '-';
  const bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
  try {
    return decodeValues(bytes).map(formatValue).join(' ');
  } catch {
    return `0x${hex}`;
  }
}

export function eventsText(events: unknown): string {
  if (!Array.isArray(events) || events.length === 0) return '';
  return 'events\n' + events.map((e) => {
    const ev = obj(e);
    const attrs = Array.isArray(ev.attributes) ? ev.attributes.map(obj).map((a) => `${String(a.key)}=${String(a.value)}`) : [];
    return `  ${String(ev.type)} ${attrs.join(' ')}\n`;
  }).join('');
}
