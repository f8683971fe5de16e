import t from 'tap';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { StateTree } from '../state/tree.ts';
import { crashBlockKey, crashWrites, hex, openDb, RefState, rng, tempDir } from './fixtures/state-reference.ts';

const CHILD = fileURLToPath(new URL('./fixtures/state-crash-child.ts', import.meta.url));
const KEEP = 5;

/** Runs the child until it has reported `versions` more commits (then waits `delayMs`), and SIGKILLs it. */
async function runAndKill(dir: string, versions: number, delayMs: number): Promise<number[]> {
  const child = spawn(process.execPath, [CHILD, dir, String(KEEP)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const reported: number[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let seen = (): void => {};
  const enough = new Promise<void>((resolve) => {
    seen = () => {
      if (reported.length >= versions) resolve();
    };
    seen();
  });
  let buf = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) reported.push(Number(l));
    seen();
  });
  // A child that never commits (or dies) fails the assertions below rather than hanging the test.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([enough, exited, new Promise((r) => (timer = setTimeout(r, 8000)))]);
  clearTimeout(timer);
  await new Promise((r) => setTimeout(r, delayMs));
  child.kill('SIGKILL');
  await exited;
  return reported;
}

/** Reference contents after versions 0..v, and the roots of the last KEEP versions. */
function replay(upTo: number): { ref: RefState; roots: Map<number, string> } {
  const ref = new RefState();
  const roots = new Map<number, string>();
  for (let v = 0; v <= upTo; v++) {
    ref.apply(crashWrites(v));
    if (v > upTo - KEEP) roots.set(v, hex(ref.root()));
  }
  return { ref, roots };
}

t.test('SIGKILL at random moments never loses or corrupts a committed version', async (t) => {
  const dir = await tempDir('state-crash');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const rand = rng(Number(process.env.STATE_CRASH_SEED ?? 12345));
  let lastReported = -1;
  for (let round = 0; round < 5; round++) {
    // Round 0 kills at a random time after spawn (possibly before the first commit); later rounds
    // after a random number of reported versions plus a random few milliseconds.
    const versions = round === 0 ? 0 : 1 + Math.floor(rand() * 25);
    const delayMs = round === 0 ? Math.floor(rand() * 600) : Math.floor(rand() * 15);
    const reported = await runAndKill(dir, versions, delayMs);
    if (reported.length > 0) {
      t.same(reported, reported.map((_, i) => reported[0]! + i), `round ${round}: child committed ${reported.length} consecutive versions`);
      lastReported = reported[reported.length - 1]!;
    }
    const db = openDb(dir);
    await db.open();
    const tree = await StateTree.open(db, { keepVersions: KEEP });
    const latest = tree.latestVersion;
    t.ok(latest >= lastReported, `round ${round}: latest ${latest} >= last reported ${lastReported}`);
    if (round > 0) t.ok(latest >= 0, 'the child committed something');
    const { ref, roots } = replay(latest);
    if (latest >= 0) {
      t.equal(hex(await tree.root()), hex(ref.root()), `round ${round}: root of version ${latest} matches the reference`);
      t.same(await db.get(crashBlockKey(latest)), await tree.root(), 'the block written in the same batch is there');
      for (let v = Math.max(0, latest - KEEP + 1); v <= latest; v++) {
        t.equal(hex(await tree.root(v)), roots.get(v), `kept version ${v} intact`);
      }
      let bad = 0;
      for (const [, e] of ref.map) if (hex((await tree.get(e.key)) ?? new Uint8Array(0)) !== hex(e.value)) bad++;
      t.equal(bad, 0, `all ${ref.map.size} values of version ${latest}`);
    }
    t.equal(await db.get(crashBlockKey(latest + 1)), undefined, 'no block beyond the latest state version');
    const next = latest + 1;
    ref.apply(crashWrites(next));
    const p = await tree.commit(next, crashWrites(next));
    t.equal(hex(p.root), hex(ref.root()), `round ${round}: version ${next} commits on top`);
    await db.put(crashBlockKey(next), p.root);
    lastReported = next;
    await db.close();
  }
});
