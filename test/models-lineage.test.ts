/**
 * The lineage walk's bounds (execution/model-query.ts), on records written by the registry's own
 * rules into an in-memory state: a wide fan-out and a diamond, a small visit budget, pages that
 * together list every node exactly once, and a walk the budget cuts short saying so.
 */
import t from 'tap';
import { addressOf } from '../chain/address.ts';
import type { Header } from '../chain/block.ts';
import { sha256 } from '../chain/hash.ts';
import { generateKeyPair } from '../chain/keys.ts';
import type { ModelParent } from '../chain/model-op.ts';
import { executeModelOp } from '../execution/models.ts';
import { getRecord, lineage } from '../execution/model-query.ts';
import { toHex } from '../chain/bytes.ts';
import { StateOverlay } from '../state/overlay.ts';
import { registerOp } from './fixtures/models.ts';

const sender = addressOf(generateKeyPair().publicKey);
const header = { height: 7, time: 1_700_000_000_000 } as Header;

async function registry() {
  const state = new StateOverlay({ get: async () => undefined });
  let n = 0;
  const register = async (label: string, parents: ModelParent[] = []) => {
    const op = registerOp(label, { parents });
    await executeModelOp(state, op, { sender, header, txHash: sha256(new Uint8Array([n++])) });
    return op.fingerprint;
  };
  return { get: (k: Uint8Array) => state.get(k), register };
}

t.test('pages list every node once, breadth first, and a diamond once', async (t) => {
  const { get, register } = await registry();
  const root = await register('root');
  const kids: Uint8Array[] = [];
  for (let i = 0; i < 12; i++) kids.push(await register(`kid-${i}`, [{ fingerprint: root, relation: 'finetune' }]));
  const merged = await register('merged', [{ fingerprint: kids[0]!, relation: 'merge' }, { fingerprint: kids[1]!, relation: 'merge' }]);
  const rec = (await getRecord(get, root))!;
  const seen: string[] = [];
  let edges = 0;
  for (let from: number | null = 0; from !== null;) {
    const page = await lineage(get, rec, 'descendants', 16, from, 5, 100);
    t.notOk(page.truncated);
    seen.push(...page.nodes.map((n) => toHex(n.record.fingerprint)));
    edges += page.edges.length;
    from = page.next;
  }
  t.equal(seen.length, 14, 'the root, 12 children, the merge');
  t.equal(new Set(seen).size, 14, 'each once');
  t.equal(seen.at(-1), toHex(merged), 'the merge comes last: depth 2');
  t.equal(edges, 14, '12 child edges and both of the merge\'s');
});

t.test('a walk past the visit budget stops and says truncated, never a silent partial answer', async (t) => {
  const { get, register } = await registry();
  const root = await register('wide');
  for (let i = 0; i < 30; i++) await register(`leaf-${i}`, [{ fingerprint: root, relation: 'adapter' }]);
  const rec = (await getRecord(get, root))!;
  const cut = await lineage(get, rec, 'descendants', 16, 0, 100, 10);
  t.ok(cut.truncated, 'truncated');
  t.equal(cut.next, null, 'no next page: the budget bounds every page');
  t.ok(cut.nodes.length <= 10, `at most the budget of nodes (${cut.nodes.length})`);
  const paged = await lineage(get, rec, 'descendants', 16, 8, 5, 10);
  t.ok(paged.truncated, 'a later page is cut at the same bound');
  const shallow = await lineage(get, rec, 'descendants', 1, 0, 100, 100);
  t.notOk(shallow.truncated, 'within the budget: complete');
  t.equal(shallow.nodes.length, 31);
});
