/**
 * chain/durable-file.ts: a durable write leaves the old file whole or the new one whole, whatever
 * fails or wherever the writer is killed, and no temporary file a reader would open; and every file
 * whose loss or tearing matters (genesis, config, keys, node key, guard state) is written through it.
 *
 * The crash child is this file run again with HALLMARK_DURABLE_CHILD set: it rewrites one file
 * with two contents in turn, saying after each write, until it is killed.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { writeFileDurably } from '../chain/durable-file.ts';
import { generateKeyPair } from '../chain/keys.ts';
import { initHome } from '../cli/home.ts';
import { formatKeyFile, KeyError, writeKeyFile } from '../cli/keystore.ts';
import { writeTestnet } from '../cli/testnet.ts';
import { loadOrCreateNodeKey } from '../p2p/identity.ts';

const OLD = 'o'.repeat(1 << 20);
const NEW = 'n'.repeat(1 << 20);

const CHILD_ENV = 'HALLMARK_DURABLE_CHILD';
const childPath = process.env[CHILD_ENV];
if (childPath !== undefined) {
  for (let i = 1; ; i++) {
    writeFileDurably(childPath, i % 2 === 1 ? NEW : OLD);
    process.stdout.write(`wrote ${i}\n`);
  }
}

/** Every file below `dir`, relative to it. */
function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile()).sort();
}

t.test('a write replaces the file whole, with the mode asked for, and leaves no temporary file', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'state.json');
  writeFileDurably(path, 'first');
  writeFileDurably(path, Uint8Array.from([0x73, 0x65, 0x63, 0x6f, 0x6e, 0x64]));
  t.equal(readFileSync(path, 'utf8'), 'second');
  writeFileDurably(join(dir, 'secret.json'), 'x', { mode: 0o600 });
  t.equal(statSync(join(dir, 'secret.json')).mode & 0o777, 0o600, 'the mode is exact, whatever the umask');
  t.same(readdirSync(dir).sort(), ['secret.json', 'state.json']);

  writeFileSync(`${path}.tmp`, '{"half": ');
  writeFileDurably(path, 'third');
  t.equal(readFileSync(path, 'utf8'), 'third', 'a temporary file left by a crash is written over');
  t.same(readdirSync(dir).sort(), ['secret.json', 'state.json'], 'and goes with the rename');
});

t.test('a failure between the write and the rename leaves what was there and no temporary file', async (t) => {
  const dir = t.testdir();
  // The rename fails for real: a directory holds the name.
  const path = join(dir, 'genesis.json');
  mkdirSync(path);
  writeFileSync(join(path, 'inside'), 'old');
  t.throws(() => writeFileDurably(path, NEW), { code: 'EISDIR' });
  t.same(filesBelow(dir), ['genesis.json/inside'], 'nothing was replaced, and the temporary file is gone');
  t.equal(readFileSync(join(path, 'inside'), 'utf8'), 'old');

  // An exclusive write fails at the link when the file exists.
  const key = join(dir, 'key.json');
  writeFileDurably(key, OLD, { exclusive: true, mode: 0o600 });
  t.throws(() => writeFileDurably(key, NEW, { exclusive: true, mode: 0o600 }), { code: 'EEXIST' });
  t.equal(readFileSync(key, 'utf8'), OLD, 'the existing file is whole and unchanged');
  t.same(filesBelow(dir), ['genesis.json/inside', 'key.json'], 'no temporary file is left');

  t.throws(() => writeFileDurably(join(dir, 'no', 'such', 'dir.json'), 'x'), { code: 'ENOENT' });
});

/** Starts the child on `path`, kills it once it has said `writes` times, and resolves when it is dead. */
async function killAfter(path: string, writes: number): Promise<NodeJS.Signals | null> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, [CHILD_ENV]: path }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  let seen = 0;
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.startsWith('wrote ') && ++seen === writes) {
      child.kill('SIGKILL');
      break;
    }
  }
  return exited;
}

t.test('a writer killed anywhere leaves the old or the new file whole', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'config.toml');
  for (let writes = 1; writes <= 4; writes++) {
    writeFileDurably(path, OLD);
    t.equal(await killAfter(path, writes), 'SIGKILL', `killed after ${writes} writes`);
    const text = readFileSync(path, 'utf8');
    t.ok(text === OLD || text === NEW, `killed after ${writes} writes: one content, whole (${text.length} bytes)`);
    t.ok(readdirSync(dir).every((f) => f === 'config.toml' || f === 'config.toml.tmp'), 'at most the temporary file beside it');
    writeFileDurably(path, 'after');
    t.same(readdirSync(dir), ['config.toml'], 'the next write goes through and leaves the file alone');
  }
});

t.test('keys and the node key are created whole, once, and never over an existing one', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'validator.json');
  const first = generateKeyPair();
  await writeKeyFile(path, first, 'validator');
  t.equal(statSync(path).mode & 0o777, 0o600);
  await t.rejects(writeKeyFile(path, generateKeyPair(), 'validator'), KeyError);
  t.equal(readFileSync(path, 'utf8'), formatKeyFile(first), 'the first key is whole and unchanged');

  // Two starts create the node key at once: one writes it, the other reads what it wrote.
  const nodeKey = join(dir, 'node_key.json');
  const [a, b] = await Promise.all([loadOrCreateNodeKey(nodeKey), loadOrCreateNodeKey(nodeKey)]);
  t.equal(a.peerId, b.peerId, 'both have the one key on disk');
  t.same(readdirSync(dir).sort(), ['node_key.json', 'validator.json'], 'no temporary file is left');
});

t.test('init and testnet leave only whole files, and no temporary ones', async (t) => {
  const dir = t.testdir();
  await initHome(join(dir, 'home'), { time: 1_700_000_000_000 });
  t.same(filesBelow(join(dir, 'home')), ['config.toml', 'genesis.json', 'keys/faucet.json', 'keys/validator.json']);
  await writeTestnet({ dir: join(dir, 'tn'), validators: 2, time: 1_700_000_000_000 });
  t.same(filesBelow(join(dir, 'tn')).filter((f) => f.endsWith('.tmp')), [], 'no temporary file in the testnet');
  t.ok(filesBelow(join(dir, 'tn')).includes('testnet.json'));
});

// Every writer of a file that matters goes through the helper, and nothing else in the node
// writes, renames or links files by itself.
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WRITERS = ['p2p/identity.ts', 'cli/keystore.ts', 'cli/home.ts', 'cli/testnet.ts'];
/**
 * Files that matter with a crash rule of their own, written in place and synced: the double-sign
 * guard's two checksummed slots (a torn save loses only a signature never released; the other slot
 * holds the state before it), one fdatasync per signature instead of a rename and two fsyncs.
 */
const OWN_RULE = ['node/privval-file.ts'];
const OTHER_WRITES: Record<string, string> = {
  'chain/durable-file.ts': 'the helper itself',
  'cli/commands/contract.ts': '`contract code --out` writes a copy the user asked for',
  'node/config-doc.ts': 'regenerates docs/config.md, a file of the repository, not of a node',
  'node/snapshots.ts': 'snapshot chunks are written asynchronously, so taking one never blocks consensus: each file fsynced, then the directory renamed into place and its parent synced',
};
const RAW_WRITE = /\b(?:writeFile|writeFileSync|rename|renameSync|link|linkSync|copyFile|copyFileSync)\s*\(/;
const FOLDERS = ['chain', 'state', 'consensus', 'vm', 'p2p', 'genesis', 'execution', 'mempool', 'rpc', 'node', 'cli'];

t.test('every file that matters is written through writeFileDurably', async (t) => {
  const sources = FOLDERS.flatMap((f) => filesBelow(join(ROOT, f)).filter((n) => n.endsWith('.ts')).map((n) => join(f, n)));
  t.ok(sources.length > 50 && sources.includes('node/privval-file.ts'), `checked ${sources.length} files`);
  for (const file of WRITERS) t.match(readFileSync(join(ROOT, file), 'utf8'), /\bwriteFileDurably\(/, `${file} writes through the helper`);
  for (const file of OWN_RULE) t.match(readFileSync(join(ROOT, file), 'utf8'), /\bfdatasyncSync\(/, `${file} syncs what it writes`);
  const raw = sources.filter((f) => !(f in OTHER_WRITES) && RAW_WRITE.test(readFileSync(join(ROOT, f), 'utf8')));
  t.same(raw, [], 'no other source file writes, renames or links a file itself');
  t.ok(RAW_WRITE.test('await handle.writeFile(text)') && RAW_WRITE.test('renameSync(a, b)'), 'the check sees a raw write');
  t.same(Object.keys(OTHER_WRITES).filter((f) => !RAW_WRITE.test(readFileSync(join(ROOT, f), 'utf8'))), [], 'each exception is still needed');
});
