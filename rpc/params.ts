/**
 * A call's params as JSON-RPC 2.0 allows them: by name (an object), or by position (an array, its
 * items taken in the order the method's params schema lists its fields, the order rpc.discover
 * lists them too), or omitted (no params). Either form is then checked against the method's
 * schema; what is wrong comes back as issues, one per field.
 */
import type { z } from 'zod';
import type { RpcIssue } from './errors.ts';
import type { ParamsSchema } from './method.ts';

/** At most this many issues are listed for one invalid params error. */
export const MAX_ISSUES = 20;

/** The method's parameter names, in their positional order. */
export function paramNames(schema: ParamsSchema): string[] {
  return Object.keys(schema.shape);
}

export type ParsedParams<P extends ParamsSchema> = { ok: true; params: z.output<P> } | { ok: false; issues: RpcIssue[] };

/** Checks `raw` (an object, an array or undefined) against `schema`. */
export function parseParams<P extends ParamsSchema>(schema: P, raw: unknown): ParsedParams<P> {
  let named = raw ?? {};
  if (Array.isArray(raw)) {
    const names = paramNames(schema);
    if (raw.length > names.length) {
      const expected = names.length === 0 ? 'no params' : `at most ${names.length} (${names.join(', ')})`;
      return { ok: false, issues: [{ path: 'params', message: `expected ${expected} by position, got ${raw.length}` }] };
    }
    named = Object.fromEntries(raw.map((value, i) => [names[i]!, value]));
  }
  const parsed = schema.safeParse(named);
  return parsed.success ? { ok: true, params: parsed.data } : { ok: false, issues: issuesOf(parsed.error) };
}

function issuesOf(error: z.ZodError): RpcIssue[] {
  const out: RpcIssue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.length === 0 ? 'params' : issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: key.length > 64 ? `${key.slice(0, 64)}…` : key, message: 'unknown parameter' });
    } else {
      out.push({ path, message: issue.message });
    }
  }
  if (out.length > MAX_ISSUES) {
    const more = out.length - MAX_ISSUES;
    out.length = MAX_ISSUES;
    out.push({ path: 'params', message: `and ${more} more issues` });
  }
  return out;
}
