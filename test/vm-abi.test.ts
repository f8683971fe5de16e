import t from 'tap';
import { addressOf, formatAddress } from '../chain/address.ts';
import { keyPairFromSecret, secretKeyFromSeed } from '../chain/keys.ts';
import { AbiError, decodeValues, encodeValues, formatValue, parseCliValue, type AbiValue } from '../vm/abi.ts';

const who = addressOf(keyPairFromSecret(secretKeyFromSeed('abi')).publicKey);

t.test('values round-trip through the tagged encoding', async (t) => {
  const values: AbiValue[] = [
    { type: 'u64', value: 0n }, { type: 'u64', value: 0xffff_ffff_ffff_ffffn }, { type: 'bytes', value: Uint8Array.of(1, 2, 3) },
    { type: 'string', value: 'héllo' }, { type: 'address', value: who }, { type: 'bool', value: true }, { type: 'bytes', value: new Uint8Array(0) },
  ];
  const bytes = encodeValues(values);
  t.same(decodeValues(bytes), values);
  t.same([...encodeValues([{ type: 'u64', value: 258n }])], [1, 2, 1, 0, 0, 0, 0, 0, 0], 'u64: tag 1, then 8 bytes little-endian');
  t.same([...encodeValues([{ type: 'string', value: 'ab' }])], [3, 2, 0, 0, 0, 97, 98], 'string: tag 3, u32 length, UTF-8');
});

t.test('bad bytes are refused with the reason', async (t) => {
  const bad: [number[], RegExp][] = [
    [[9], /unknown value tag 9/], [[1, 0, 0], /u64 .* runs past/], [[2, 5, 0, 0, 0, 1], /bytes .* runs past/],
    [[3, 1, 0, 0, 0, 0xff], /not valid UTF-8/], [[5, 2], /0 or 1/], [[4, 1, 2], /address .* runs past/],
  ];
  for (const [bytes, why] of bad) t.throws(() => decodeValues(Uint8Array.from(bytes)), { name: 'AbiError', message: why });
  t.throws(() => encodeValues([{ type: 'u64', value: -1n }]), AbiError);
});

t.test('CLI arguments by their form, or by a prefix', async (t) => {
  t.same(parseCliValue('42'), { type: 'u64', value: 42n });
  t.same(parseCliValue('true'), { type: 'bool', value: true });
  t.same(parseCliValue(formatAddress(who)), { type: 'address', value: who });
  t.same(parseCliValue('0x0a0b'), { type: 'bytes', value: Uint8Array.of(10, 11) });
  t.same(parseCliValue('Hallmark'), { type: 'string', value: 'Hallmark' });
  t.same(parseCliValue('str:42'), { type: 'string', value: '42' }, 'a prefix overrides the form');
  t.same(parseCliValue('u64:7'), { type: 'u64', value: 7n });
  t.same(parseCliValue('007'), { type: 'string', value: '007' }, 'a number with a leading zero is not a u64');
  t.throws(() => parseCliValue('u64:-1'), /u64: expected a decimal integer/);
  t.throws(() => parseCliValue('u64:18446744073709551616'), /above 2\^64-1/);
  t.throws(() => parseCliValue('bool:yes'), /bool/);
  t.throws(() => parseCliValue('addr:hm1nope'), /address/);
  t.throws(() => parseCliValue('bytes:0xabc'), /hex/);
  t.equal(formatValue({ type: 'address', value: who }), formatAddress(who));
  t.equal(formatValue({ type: 'string', value: 'x' }), '"x"');
  t.equal(formatValue({ type: 'bytes', value: Uint8Array.of(255) }), '0xff');
});
