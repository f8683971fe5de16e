/**
 * config.toml keys, each declared once: its name, the values it takes, where its value lives in the
 * config, and one line that says what it does. From these declarations node/config.ts makes the
 * parser, the file `hallmark init` writes, and docs/config.md's tables (node/config-doc.ts). Each
 * part of the node declares its own tables (rpc/config.ts, p2p/config.ts, mempool/config.ts). A
 * key's default is its value in the part's defaults (DEFAULT_RPC_SERVER_OPTIONS, …), the same
 * object the part runs with when given no config.
 */
import { z } from 'zod';
import { U64_MAX } from './codec.ts';
import { describe } from './schema-problems.ts';

/** The values a key takes: how they are checked, read, written and documented. */
export interface KeyKind<T> {
  /** Checks the value as the file gives it; a failure's message says what is expected. */
  readonly schema: z.ZodType;
  /** The checked value as the config holds it. */
  readonly read: (v: any) => T;
  /** The config's value as TOML. */
  readonly toml: (v: T) => string;
  /** docs/config.md's type column. */
  readonly type: string;
  /** docs/config.md's default column; the TOML text in backticks if not given. */
  readonly shown?: (v: T) => string;
}

/** One key of a table. `S` is the table's part of the config. */
export interface ConfigKey<S> {
  readonly name: string;
  readonly kind: KeyKind<any>;
  /** One line: the comment above the key in config.toml, and its meaning in docs/config.md. */
  readonly doc: string;
  /** The value; undefined or null for a key left out (TOML has no null), written commented out. */
  readonly get: (s: S) => unknown;
  readonly set: (s: S, v: any) => void;
}

/** A TOML table and its keys. */
export interface ConfigTable<R, S = any> {
  /** Dotted: `rpc`, `p2p.limits.txs`. */
  readonly name: string;
  /** The table's part of the config `R`. */
  readonly of: (root: R) => S;
  readonly keys: readonly ConfigKey<S>[];
  /** A line written under the table's header in config.toml. */
  readonly doc?: string;
}

/** Keys held in a field of their table's part of the config: `field<RpcServerConfig>()('max_batch', 'maxBatch', …)`. */
export function field<S>() {
  return <F extends keyof S & string>(name: string, f: F, kind: KeyKind<NonNullable<S[F]>>, doc: string): ConfigKey<S> =>
    ({ name, kind, doc, get: (s) => s[f], set: (s, v) => { s[f] = v; } });
}

/** The same tables, reached from a larger config through `part`. */
export function within<R, P>(tables: readonly ConfigTable<P>[], part: (root: R) => P): ConfigTable<R>[] {
  return tables.map((t) => ({ ...t, of: (root: R) => t.of(part(root)) }));
}

// ---- kinds -----------------------------------------------------------------------------------------

const q = (s: string) => JSON.stringify(s);
const MiB = 1024 * 1024;

/** A zod refinement from a function that returns what is wrong, or null. */
export function check<T>(problem: (v: T) => string | null) {
  return (v: T, ctx: z.RefinementCtx<T>) => {
    const p = problem(v);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  };
}

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): KeyKind<number> {
  return {
    schema: z.int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`),
    read: (v) => v,
    toml: String,
    type: max === Number.MAX_SAFE_INTEGER ? `integer ≥ ${min}` : min < 0 ? `integer ${min} to ${max}` : `integer ${min}–${max}`,
  };
}

/** A number of bytes: an integer, its default shown in KiB or MiB as well. */
export function byteCount(min: number, max?: number): KeyKind<number> {
  const shown = (v: number) => `\`${v}\`${v >= 1024 && v % 1024 === 0 ? ` (${v % MiB === 0 ? `${v / MiB} MiB` : `${v / 1024} KiB`})` : ''}`;
  return { ...integer(min, max), shown };
}

export const boolean: KeyKind<boolean> = { schema: z.boolean(), read: (v) => v, toml: String, type: 'boolean' };

export function oneOf<T extends string>(values: readonly T[]): KeyKind<T> {
  const problem = (s: string) => ((values as readonly string[]).includes(s) ? null : `must be one of ${values.map(q).join(', ')}, got ${q(s)}`);
  const names = values.map((v) => `\`${v}\``);
  return { schema: z.string().superRefine(check(problem)), read: (v) => v, toml: q, type: `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` };
}

/** An array of strings, each checked by `problem`. */
export function stringList(problem: (s: string) => string | null, type: string): KeyKind<string[]> {
  return { schema: z.array(z.string().superRefine(check(problem))), read: (v) => [...v], toml: (v) => `[${v.map(q).join(', ')}]`, type };
}

function u64Problem(v: unknown): string | null {
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'bigint') return `expected a whole number in a string such as "1000", got ${describe(v, 'toml')}`;
  const s = String(v);
  const ok = typeof v === 'number' ? Number.isSafeInteger(v) && v >= 0 : typeof v === 'bigint' ? v >= 0n : /^(?:0|[1-9][0-9]*)$/.test(s);
  if (!ok) return `must be a whole number of base units such as "0" or "1000", got ${typeof v === 'string' ? q(v) : s}`;
  return BigInt(s) > U64_MAX ? 'exceeds 2^64-1' : null;
}

/** A u64 written as a decimal string, so no reader rounds it (an integer is taken too); held as a bigint. */
export const decimalU64: KeyKind<bigint> = {
  schema: z.unknown().superRefine(check(u64Problem)), read: (v) => BigInt(v), toml: (v) => q(v.toString()), type: 'decimal string (or integer)',
};

const LISTEN = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):([0-9]{1,5})$/;

function listenProblem(s: string): string | null {
  const m = LISTEN.exec(s);
  if (!m) return `must be "host:port" such as "127.0.0.1:26657" (IPv6 as "[::1]:26657"), got ${q(s)}`;
  if (Number(m[3]) > 65535) return `port ${m[3]} is out of range (0-65535)`;
  return null;
}

export function formatListen(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

const LISTEN_KIND: KeyKind<{ host: string; port: number }> = {
  schema: z.string().superRefine(check(listenProblem)),
  read: (s: string) => {
    const m = LISTEN.exec(s)!;
    return { host: m[1] ?? m[2]!, port: Number(m[3]) };
  },
  toml: (v) => q(formatListen(v.host, v.port)),
  type: '`"host:port"`',
};

/** `listen = "host:port"`, held as the table's `host` and `port`. */
export function listenKey<S extends { host: string; port: number }>(doc: string): ConfigKey<S> {
  return {
    name: 'listen', kind: LISTEN_KIND, doc,
    get: (s) => ({ host: s.host, port: s.port }),
    set: (s, v: { host: string; port: number }) => { s.host = v.host; s.port = v.port; },
  };
}

// ---- what the declarations make -----------------------------------------------------------------------

/** The schema of the whole file: one strict object per table, every key optional. */
export function tablesSchema<R>(tables: readonly ConfigTable<R>[]): z.ZodObject {
  const shape = (prefix: string): Record<string, z.ZodType> => {
    const out: Record<string, z.ZodType> = {};
    for (const t of tables) if (t.name === prefix) for (const k of t.keys) out[k.name] = k.kind.schema.optional();
    for (const t of tables) {
      if (prefix !== '' && !t.name.startsWith(`${prefix}.`)) continue;
      const child = t.name.slice(prefix === '' ? 0 : prefix.length + 1).split('.')[0]!;
      if (t.name !== prefix && !(child in out)) out[child] = z.strictObject(shape(prefix === '' ? child : `${prefix}.${child}`)).optional();
    }
    return out;
  };
  return z.strictObject(shape(''));
}

/** Sets on `root` every key the checked document gives. */
export function readTables<R>(tables: readonly ConfigTable<R>[], doc: Record<string, unknown>, root: R): void {
  for (const t of tables) {
    const table = t.name.split('.').reduce<Record<string, unknown> | undefined>((d, k) => d?.[k] as Record<string, unknown> | undefined, doc);
    if (table === undefined) continue;
    for (const k of t.keys) if (table[k.name] !== undefined) k.set(t.of(root), k.kind.read(table[k.name]));
  }
}

const absent = (v: unknown) => v === undefined || v === null;

/** The tables as TOML, every key written with its line of doc above it; a key left out is commented out. */
export function formatTables<R>(tables: readonly ConfigTable<R>[], root: R): string {
  return tables.map((t) => {
    const keys = t.keys.map((k) => {
      const v = k.get(t.of(root));
      return `# ${k.doc}\n${absent(v) ? `# ${k.name} = ` : `${k.name} = ${k.kind.toml(v)}`}`;
    });
    return [`[${t.name}]`, ...(t.doc ? [`# ${t.doc}\n`] : []), ...keys].join('\n');
  }).join('\n\n');
}

/** A markdown table of the keys of `table`: key, type, default (the value in `defaults`), meaning. */
export function markdownTable<R>(table: ConfigTable<R>, defaults: R): string {
  const cell = (s: string) => s.replaceAll('|', '\\|');
  const rows = table.keys.map((k) => {
    const v = k.get(table.of(defaults));
    const shown = absent(v) ? 'absent' : k.kind.shown ? k.kind.shown(v) : `\`${k.kind.toml(v)}\``;
    return `| \`${k.name}\` | ${cell(k.kind.type)} | ${cell(shown)} | ${cell(k.doc)} |`;
  });
  return ['| key | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
