import { addressOf } from '../chain/address.ts';
import { keyPairFromSecret, secretKeyFromSeed } from '../chain/keys.ts';
import { decodeSignedTransaction } from '../chain/tx.ts';
import { presignedTransfers } from './load.ts';
const senders = Array.from({ length: 200 }, (_, i) => keyPairFromSecret(secretKeyFromSeed(`c/${i}`)));
const raws = presignedTransfers('hallmark-bench', senders, addressOf(senders[0]!.publicKey), 0, 1).map((t) => t.bytes);
const s = performance.now();
for (let k = 0; k < 500; k++) for (const r of raws) decodeSignedTransaction(r);
console.log(((performance.now() - s) * 1000 / 100000).toFixed(2), 'us per decode');
