/**
 * docs/config.md's key tables, made from the key declarations (CONFIG_TABLES in config.ts). Each
 * table stands between `<!-- keys NAME -->` and `<!-- /keys -->`; the prose around them is written
 * by hand. After changing a key, from the repository's root:
 *
 *   npx node node/config-doc.ts            prints docs/config.md with its tables made anew
 *   npx node node/config-doc.ts --write    rewrites docs/config.md
 *
 * test/config.test.ts fails while the file and the declarations differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { markdownTable } from '../chain/config-keys.ts';
import { CONFIG_TABLES, DEFAULT_CONFIG } from './config.ts';

export const CONFIG_DOC = 'docs/config.md';

const REGION = /(<!-- keys ([a-z0-9_.]+) -->\n)[^]*?(<!-- \/keys -->)/g;

/** `markdown` with every keys region made anew; a table without a region, or a region without a table, is an error. */
export function renderConfigDoc(markdown: string): string {
  const tables = new Map(CONFIG_TABLES.map((t) => [t.name, t]));
  const seen = new Set<string>();
  const out = markdown.replace(REGION, (_, open: string, name: string, close: string) => {
    const table = tables.get(name);
    if (table === undefined) throw new Error(`${CONFIG_DOC}: <!-- keys ${name} --> names no table of config.toml`);
    seen.add(name);
    return `${open}${markdownTable(table, DEFAULT_CONFIG)}\n${close}`;
  });
  const missing = [...tables.keys()].filter((n) => !seen.has(n));
  if (missing.length > 0) throw new Error(`${CONFIG_DOC}: no <!-- keys NAME --> region for ${missing.map((n) => `[${n}]`).join(', ')}`);
  return out;
}

if (import.meta.main) {
  const text = renderConfigDoc(readFileSync(CONFIG_DOC, 'utf8'));
  if (process.argv.includes('--write')) writeFileSync(CONFIG_DOC, text);
  else process.stdout.write(text);
}
