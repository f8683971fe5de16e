/**
 * The "Joining by snapshot" walkthrough of docs/operator.md, run as written by bash: a 4-validator
 * testnet taking snapshots, a fifth node added and started with `--sync snapshot`. Only the
 * directory and the ports differ (a fresh directory, and free ports in place of 271xx), so the test
 * never collides with another; everything else is the document's text.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { liveDir } from './fixtures/dirs.ts';
import { rpc } from './fixtures/node.ts';
import { freeBasePort } from './fixtures/processes.ts';

const DOC = new URL('../docs/operator.md', import.meta.url);

t.test('docs/operator.md: a fifth node joins a running testnet by snapshot, as written', async (t) => {
  const m = /## Joining by snapshot[\s\S]*?```sh\n([\s\S]*?)```/.exec(readFileSync(DOC, 'utf8'));
  t.ok(m, 'the walkthrough block is there');
  const root = liveDir(t);
  const tn = join(root, 'tn');
  const base = await freeBasePort(5);
  const port = (x: string, y: string) => String(base + 10 * Number(x) + Number(y));
  const script = m![1]!.replaceAll('/tmp/tn', tn).replace(/\b271(\d)(\d)\b/g, (_s, x: string, y: string) => port(x, y));
  t.notMatch(script, /\/tmp\/tn|\b271\d\d\b/, 'every directory and port was substituted');

  // Its own process group, so the background testnet and node can be stopped together afterwards.
  const bash = spawn('bash', ['-c', `set -x\n${script}`], { cwd: root, env: { PATH: process.env.PATH, HOME: root }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  bash.stdout.on('data', (d: Buffer) => (stdout += d));
  bash.stderr.on('data', (d: Buffer) => (stderr += d));
  const stopAll = async () => {
    try {
      process.kill(-bash.pid!, 'SIGINT');
      await new Promise((r) => setTimeout(r, 3_000));
      process.kill(-bash.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  t.teardown(stopAll);
  const code = await new Promise<number | null>((resolve) => bash.on('exit', (c) => resolve(c)));
  t.equal(code, 0, 'the block runs to its end', { stdout, stderr });

  const restored = /restored the state from a snapshot.* height=(\d+)/.exec(stdout);
  t.ok(restored, 'node4 restored the state from a snapshot');
  const h = Number(restored?.[1]);
  t.ok(h >= 10 && h % 10 === 0, `at a snapshot height (${h})`);
  t.match(stdout, new RegExp(`^earliest block +${h + 1}$`, 'm'), 'its status shows no block below the snapshot');

  // It catches up and computes the validators' state: same height, same state root.
  const node0 = `http://127.0.0.1:${port('0', '1')}`;
  const node4 = `http://127.0.0.1:${port('4', '1')}`;
  let same = false;
  for (let i = 0; i < 600 && !same; i++) {
    const [a, b] = await Promise.all([rpc(node0, 'chain_status'), rpc(node4, 'chain_status')]);
    same = a.latest_height === b.latest_height && a.latest_height > h && a.latest_state_root === b.latest_state_root && !b.catching_up;
    if (!same) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(same, 'node4 reaches the validators\' height with their state root');
  t.match(readFileSync(join(tn, 'node4', 'node.log'), 'utf8'), /took|restored/, 'node4 logged to its node.log');
});
