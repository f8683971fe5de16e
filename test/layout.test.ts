/**
 * The layout's rules (docs/architecture.md): each top-level folder may import only the folders
 * listed for it, so dependencies point one way (chain → state, consensus, vm, p2p, genesis →
 * execution → mempool → rpc → node → cli) and nothing below node/ imports node/. Every relative
 * import, static or dynamic, in every source file is checked; so is the size of each file.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const BASE = ['chain'];
const LOWER = [...BASE, 'state', 'consensus', 'vm', 'p2p', 'genesis', 'zk', 'models'];
/** What each source folder may import (besides itself). */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  chain: [],
  zk: BASE,
  state: BASE,
  consensus: BASE,
  vm: [...BASE, 'zk'],
  p2p: BASE,
  genesis: BASE,
  models: [...BASE, 'state', 'consensus'],
  execution: LOWER,
  mempool: [...LOWER, 'execution'],
  rpc: [...LOWER, 'execution', 'mempool'],
  node: [...LOWER, 'execution', 'mempool', 'rpc'],
  // The testnet supervisor spawns bin/hallmark.js (a path, not an import).
  cli: [...LOWER, 'execution', 'mempool', 'rpc', 'node', 'bin'],
  bin: ['cli'],
  contracts: BASE,
};
/** Folders that may import anything of ours. */
const FREE = new Set(['test', 'bench']);
/** The longest a source file outside test/ may be: one a reader can hold in their head. */
const MAX_LINES = 450;

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|new URL\(\s*)(['"])(\.{1,2}\/[^'"]+)\1/g;

/** Relative specifiers in `source` (static and dynamic imports, side-effect imports, new URL). */
export function specifiers(source: string): string[] {
  return [...source.matchAll(SPECIFIER)].map((m) => m[2]!);
}

/** The problems with one file's imports: `file imports target (folder → folder is not allowed)`. */
export function importProblems(file: string, source: string): string[] {
  const from = relative(ROOT, file).split(sep)[0]!;
  if (FREE.has(from)) return [];
  const allowed = ALLOWED[from];
  if (allowed === undefined) return [`${relative(ROOT, file)}: folder ${from}/ is not in the layout (add it to ALLOWED and docs/architecture.md)`];
  const problems: string[] = [];
  for (const spec of specifiers(source)) {
    const target = relative(ROOT, resolve(dirname(file), spec));
    const to = target.split(sep)[0]!;
    if (to === from || target === 'package.json' || allowed.includes(to)) continue;
    problems.push(`${relative(ROOT, file)} imports ${target} (${from}/ → ${to}/ is not allowed)`);
  }
  return problems;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const FILES = sourceFiles(ROOT).filter((f) => relative(ROOT, f).includes(sep));

t.test('the checker catches an import that runs the wrong way', async (t) => {
  t.same(specifiers(`import a from './a.ts';\nimport type { B } from "../node/b.ts";\nconst c = await import('../cli/c.ts');\nimport '../x/side.ts';`),
    ['./a.ts', '../node/b.ts', '../cli/c.ts', '../x/side.ts']);
  t.same(importProblems(join(ROOT, 'execution', 'x.ts'), `import { startNode } from '../node/node.ts';`),
    ['execution/x.ts imports node/node.ts (execution/ → node/ is not allowed)']);
  t.same(importProblems(join(ROOT, 'rpc', 'x.ts'), `const m = await import('../cli/main.ts');`),
    ['rpc/x.ts imports cli/main.ts (rpc/ → cli/ is not allowed)']);
  t.same(importProblems(join(ROOT, 'chain', 'x.ts'), `import { Level } from 'level';\nimport { a } from './a.ts';`), [], 'packages and the own folder are fine');
  t.same(importProblems(join(ROOT, 'test', 'x.ts'), `import { startNode } from '../node/node.ts';`), [], 'tests may import anything');
});

t.test('every import in the repository points the allowed way', async (t) => {
  t.ok(FILES.length > 50, `checked ${FILES.length} files`);
  const problems = FILES.flatMap((f) => importProblems(f, readFileSync(f, 'utf8')));
  t.same(problems, [], 'no import runs against the layout');
});

t.test('the README and docs/ name only paths that exist, and the README nothing outside the repository', async (t) => {
  const docs = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const folders = new Set([...Object.keys(ALLOWED), ...FREE, 'docs']);
  const missing: string[] = [];
  let checked = 0;
  for (const doc of docs) {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    for (const m of text.matchAll(/`((?:[a-z]+\/)+[\w.-]*)`/g)) {
      const path = m[1]!;
      if (!folders.has(path.split('/')[0]!) || /^(zk|models)\//.test(path)) continue;
      checked++;
      if (!existsSync(join(ROOT, path))) missing.push(`${doc}: ${path}`);
    }
  }
  t.ok(checked > 30, `${checked} paths named`);
  t.same(missing, [], 'every repository path the documents name exists');
  t.notMatch(readFileSync(join(ROOT, 'README.md'), 'utf8'), /\]\(\.\.\/|`\.\.\//, 'the README points at nothing outside the repository');
});

t.test(`no source file outside test/ is longer than ${MAX_LINES} lines`, async (t) => {
  const sizes = FILES
    .filter((f) => !relative(ROOT, f).startsWith(`test${sep}`))
    .map((f) => ({ f: relative(ROOT, f), lines: readFileSync(f, 'utf8').split('\n').length - 1 }));
  t.same(sizes.filter(({ lines }) => lines > MAX_LINES).map(({ f, lines }) => `${f}: ${lines} lines`), []);
  const node = sizes.filter(({ f }) => f.startsWith(`node${sep}`)).reduce((sum, { lines }) => sum + lines, 0);
  t.comment(`node/ holds ${node} lines: wiring and the process, not the logic it wires`);
});
