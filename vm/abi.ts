/**
 * The contract ABI's value encoding (docs/contracts.md, "Methods and arguments"): tagged values
 * back to back, for call arguments and return data. Used by the CLI and by clients; contracts use
 * the SDK's Args and Values.
 */
import { formatAddress, parseAddress } from '../chain/address.ts';
import { CodedError } from '../chain/errors.ts';

export const TAG = { u64: 1, bytes: 2, string: 3, address: 4, bool: 5 } as const;

export type AbiValue =
  | { type: 'u64'; value: bigint }
  | { type: 'bytes'; value: Uint8Array }
  | { type: 'string'; value: string }
  | { type: 'address'; value: Uint8Array }
  | { type: 'bool'; value: boolean };

export class AbiError extends CodedError<'abi_invalid'> {
  constructor(message: string) {
    super('abi_invalid', message);
  }
}

export function encodeValues(values: readonly AbiValue[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const u32 = (n: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    return b;
  };
  for (const v of values) {
    switch (v.type) {
      case 'u64': {
        if (v.value < 0n || v.value > 0xffff_ffff_ffff_ffffn) throw new AbiError(`u64 out of range: ${v.value}`);
        const b = new Uint8Array(9);
        b[0] = TAG.u64;
        new DataView(b.buffer).setBigUint64(1, v.value, true);
        parts.push(b);
        break;
      }
      case 'bytes':
        parts.push(Uint8Array.of(TAG.bytes), u32(v.value.length), v.value);
        break;
      case 'string': {
        const s = new TextEncoder().encode(v.value);
        parts.push(Uint8Array.of(TAG.string), u32(s.length), s);
        break;
      }
      case 'address':
        if (v.value.length !== 20) throw new AbiError('an address is 20 bytes');
        parts.push(Uint8Array.of(TAG.address), v.value);
        break;
      case 'bool':
        parts.push(Uint8Array.of(TAG.bool, v.value ? 1 : 0));
        break;
    }
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Decodes tagged values; throws AbiError on bytes that are not a whole sequence of them. */
export function decodeValues(bytes: Uint8Array): AbiValue[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: AbiValue[] = [];
  let at = 0;
  const need = (n: number, what: string) => {
    if (at + n > bytes.length) throw new AbiError(`${what} at byte ${at} runs past the end`);
  };
  while (at < bytes.length) {
    const tag = bytes[at++]!;
    switch (tag) {
      case TAG.u64:
        need(8, 'u64');
        out.push({ type: 'u64', value: view.getBigUint64(at, true) });
        at += 8;
        break;
      case TAG.bytes: case TAG.string: {
        need(4, 'length');
        const n = view.getUint32(at, true);
        at += 4;
        need(n, tag === TAG.bytes ? 'bytes' : 'string');
        const body = bytes.slice(at, at + n);
        at += n;
        if (tag === TAG.bytes) out.push({ type: 'bytes', value: body });
        else {
          try {
            out.push({ type: 'string', value: new TextDecoder('utf-8', { fatal: true }).decode(body) });
          } catch {
            throw new AbiError('a string is not valid UTF-8');
          }
        }
        break;
      }
      case TAG.address:
        need(20, 'address');
        out.push({ type: 'address', value: bytes.slice(at, at + 20) });
        at += 20;
        break;
      case TAG.bool:
        need(1, 'bool');
        if (bytes[at]! > 1) throw new AbiError('a bool is 0 or 1');
        out.push({ type: 'bool', value: bytes[at++] === 1 });
        break;
      default:
        throw new AbiError(`unknown value tag ${tag} at byte ${at - 1}`);
    }
  }
  return out;
}

/**
 * One CLI argument as a value: `42` a u64, `true`/`false` a bool, `hm1…` an address, `0x…` bytes,
 * anything else a string; a prefix `u64:`, `bool:`, `addr:`, `bytes:` or `str:` picks the type.
 */
export function parseCliValue(arg: string): AbiValue {
  const m = /^(u64|bool|addr|bytes|str):(.*)$/s.exec(arg);
  const kind = m ? m[1]! : /^(0|[1-9][0-9]*)$/.test(arg) ? 'u64' : arg === 'true' || arg === 'false' ? 'bool'
    : /^hm1[02-9ac-hj-np-z]+$/.test(arg) ? 'addr' : /^0x([0-9a-fA-F]{2})*$/.test(arg) ? 'bytes' : 'str';
  const text = m ? m[2]! : arg;
  switch (kind) {
    case 'u64': {
      if (!/^(0|[1-9][0-9]*)$/.test(text)) throw new AbiError(`u64: expected a decimal integer, got ${JSON.stringify(text)}`);
      const value = BigInt(text);
      if (value > 0xffff_ffff_ffff_ffffn) throw new AbiError(`u64: ${text} is above 2^64-1`);
      return { type: 'u64', value };
    }
    case 'bool':
      if (text !== 'true' && text !== 'false') throw new AbiError(`bool: expected true or false, got ${JSON.stringify(text)}`);
      return { type: 'bool', value: text === 'true' };
    case 'addr':
      try {
        return { type: 'address', value: parseAddress(text) };
      } catch (err) {
        throw new AbiError(`address: ${(err as Error).message}`);
      }
    case 'bytes': {
      const hex = text.replace(/^0x/, '');
      if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new AbiError(`bytes: expected hex, got ${JSON.stringify(text)}`);
      return { type: 'bytes', value: Uint8Array.from(Buffer.from(hex, 'hex')) };
    }
    default:
      return { type: 'string', value: text };
  }
}

/** A value for people: u64 and bool as they are, bytes as 0x-hex, strings quoted, addresses formatted. */
export function formatValue(v: AbiValue): string {
  switch (v.type) {
    case 'u64': return v.value.toString();
    case 'bool': return String(v.value);
    case 'bytes': return '0x' + Buffer.from(v.value).toString('hex');
    case 'string': return JSON.stringify(v.value);
    case 'address': return formatAddress(v.value);
  }
}
