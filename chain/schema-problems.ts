/**
 * The one formatter of zod issues for the files people edit or the node keeps (config.toml,
 * genesis.json, key files, node_key.json, the sign state): each issue becomes `path: what is
 * wrong`, with the path as written in the file (`validators[1].power`), the value that was found,
 * and a "did you mean" for an unknown key.
 */
import { z } from 'zod';
import { duplicateKeys } from './json-keys.ts';

export interface SchemaProblem {
  path: readonly PropertyKey[];
  message: string;
}

/**
 * How the file names things: TOML has tables, keys and (at the top) sections; JSON has objects and
 * fields.
 */
export type Dialect = 'toml' | 'json';

/** `validators[1].power`; the document itself is `(document)`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const k of path) s += typeof k === 'number' ? `[${k}]` : s === '' ? String(k) : `.${String(k)}`;
  return s === '' ? '(document)' : s;
}

/** A found value, for `got …`: its type and (shortened) text. */
export function describe(v: unknown, dialect: Dialect = 'json'): string {
  if (v === null) return 'null';
  if (v instanceof Date) return 'a date';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return dialect === 'toml' ? 'a table' : 'an object';
  const shown = JSON.stringify(typeof v === 'bigint' ? v.toString() : v) ?? String(v);
  return `${typeof v === 'bigint' ? 'integer' : typeof v} ${shown.length > 40 ? `${shown.slice(0, 37)}...` : shown}`;
}

/** Every issue as a problem, in zod's order. `schema` is the one that was parsed, for the hints. */
export function schemaProblems(schema: z.ZodType, issues: readonly z.core.$ZodIssue[], dialect: Dialect): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  for (const iss of issues) {
    if (iss.code === 'unrecognized_keys') {
      for (const k of iss.keys) out.push({ path: [...iss.path, k], message: unknownKeyMessage(schema, iss.path, k, dialect) });
    } else if (iss.code === 'invalid_type' && iss.input === undefined) {
      out.push({ path: iss.path, message: 'missing (required field)' });
    } else if (iss.code === 'invalid_type' && typeof iss.input === 'bigint') {
      // TOML integers beyond 2^53 arrive as bigints; every integer the schemas take is a safe integer.
      out.push({ path: iss.path, message: `must be at most ${Number.MAX_SAFE_INTEGER}, got ${iss.input}` });
    } else if (iss.code === 'invalid_type') {
      const e = iss.expected;
      const expected = e === 'int' || e === 'number' ? 'an integer' : e === 'object' ? (dialect === 'toml' ? 'a table' : 'an object')
        : e === 'array' ? 'an array' : e === 'boolean' ? 'true or false' : `a ${e}`;
      out.push({ path: iss.path, message: `expected ${expected}, got ${describe(iss.input, dialect)}` });
    } else {
      out.push({ path: iss.path, message: iss.message });
    }
  }
  return out;
}

/** `path: message` lines. */
export function problemLines(problems: readonly SchemaProblem[]): string[] {
  return problems.map((p) => `${formatPath(p.path)}: ${p.message}`);
}

/**
 * JSON text as a document: a byte-order mark is skipped; text that is not JSON, or an object that
 * gives a key twice (JSON.parse would keep the last without a word), is a list of problems.
 */
export function jsonDocument(text: string): { doc: unknown } | { problems: string[] } {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    return { problems: [`not valid JSON: ${(err as Error).message}`] };
  }
  const repeated = duplicateKeys(body);
  if (repeated.length > 0) return { problems: repeated.map((p) => `${formatPath(p)}: appears twice (only one may be given)`) };
  return { doc };
}

/** JSON text checked against `schema`: the value, or every problem as a `path: what is wrong` line. */
export function parseJsonText<S extends z.ZodType>(text: string, schema: S): { value: z.output<S> } | { problems: string[] } {
  const read = jsonDocument(text);
  if ('problems' in read) return read;
  const result = schema.safeParse(read.doc, { reportInput: true });
  return result.success ? { value: result.data } : { problems: problemLines(schemaProblems(schema, result.error.issues, 'json')) };
}

function unknownKeyMessage(schema: z.ZodType, path: readonly PropertyKey[], key: string, dialect: Dialect): string {
  const known = knownKeys(schema, path);
  const what = dialect === 'json' ? 'unknown field' : path.length === 0 ? 'unknown section' : 'unknown key';
  if (known.length === 0) return what;
  const near = known.filter((k) => editDistance(k, key) <= 2).sort((a, b) => editDistance(a, key) - editDistance(b, key))[0];
  return `${what} (${near ? `did you mean ${JSON.stringify(near)}?` : `expected one of ${known.join(', ')}`})`;
}

/** The keys the object at `path` may hold (none if the schema cannot be followed there). */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const unwrap = (s: z.ZodType): z.ZodType => (s instanceof z.ZodOptional ? unwrap(s.unwrap() as z.ZodType) : s);
  let at = unwrap(schema);
  for (const k of path) {
    const next = at instanceof z.ZodObject ? (at.shape as Record<string, z.ZodType>)[String(k)]
      : at instanceof z.ZodArray && typeof k === 'number' ? at.element as z.ZodType : undefined;
    if (next === undefined) return [];
    at = unwrap(next);
  }
  return at instanceof z.ZodObject ? Object.keys(at.shape) : [];
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
