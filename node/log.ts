/**
 * The node's logger: levelled, structured (a message plus key/value fields), in two formats.
 *
 *   text  2026-11-23T10:00:00.000Z INFO  committed block height=5 txs=3 hash=ab12cd34ef56…
 *   json  {"time":"2026-11-23T10:00:00.000Z","level":"info","msg":"committed block","height":5,…}
 *
 * Text is for people: byte strings are shortened to a greppable hex prefix. JSON is for machines:
 * one object per line, byte strings in full hex, bigints as decimal strings (no JSON reader rounds
 * them). The clock and the output stream are passed in so tests read exact lines.
 */
import type { LogFormat, LogLevel } from './config.ts';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (a child's own fields win on a clash). */
  child(fields: LogFields): Logger;
}

export interface LogStream {
  write(chunk: string): unknown;
}

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Where lines go; process.stdout by default. */
  stream?: LogStream;
  /** Milliseconds since the epoch; Date.now by default. */
  now?: () => number;
}

type Emitting = Exclude<LogLevel, 'silent'>;
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: Infinity };
/** Text-format hex of longer byte strings is cut to this many characters. */
const TEXT_HEX_CHARS = 12;

export function createLogger(opts: LoggerOptions): Logger {
  if (!(opts.level in RANK)) throw new RangeError(`log level: expected one of ${Object.keys(RANK).join(', ')}, got ${JSON.stringify(opts.level)}`);
  if (opts.format !== 'text' && opts.format !== 'json') throw new RangeError(`log format: expected text or json, got ${JSON.stringify(opts.format)}`);
  const stream = opts.stream ?? process.stdout;
  const now = opts.now ?? Date.now;
  const min = RANK[opts.level];
  const line = opts.format === 'json' ? jsonLine : textLine;

  const make = (bound: LogFields): Logger => {
    const emit = (level: Emitting) => (msg: string, fields?: LogFields): void => {
      if (RANK[level] < min) return;
      const all = fields ? { ...bound, ...fields } : bound;
      stream.write(`${line(new Date(now()).toISOString(), level, msg, all)}\n`);
    };
    return {
      debug: emit('debug'),
      info: emit('info'),
      warn: emit('warn'),
      error: emit('error'),
      child: (fields) => make({ ...bound, ...fields }),
    };
  };
  return make({});
}

// ---- formats -------------------------------------------------------------------------------------

function textLine(time: string, level: Emitting, msg: string, fields: LogFields): string {
  let s = `${time} ${level.toUpperCase().padEnd(5)} ${oneLine(msg)}`;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    s += ` ${k}=${textValue(v)}`;
  }
  return s;
}

function jsonLine(time: string, level: Emitting, msg: string, fields: LogFields): string {
  const out: Record<string, unknown> = { time, level, msg };
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    // The record's own keys are not overwritten by a field of the same name.
    out[k in out ? `field_${k}` : k] = jsonValue(v, 0);
  }
  return JSON.stringify(out);
}

function oneLine(s: string): string {
  return s.replace(/\r?\n/g, '\\n');
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function textValue(v: unknown): string {
  if (v instanceof Uint8Array) {
    const h = hex(v);
    return h.length > TEXT_HEX_CHARS ? `${h.slice(0, TEXT_HEX_CHARS)}…` : h;
  }
  if (typeof v === 'string') return v === '' || /[\s"=\\]/.test(v) ? JSON.stringify(v) : v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || v === null) return String(v);
  if (v instanceof Error) return JSON.stringify(errorText(v));
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'invalid-date' : v.toISOString();
  return JSON.stringify(jsonValue(v, 0)) ?? String(v);
}

function errorText(e: Error): string {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${e.message}` : e.message;
}

/** A JSON-safe copy: bigints as strings, bytes as hex, errors as {message, code}; cycles cut. */
function jsonValue(v: unknown, depth: number): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return hex(v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (v instanceof Error) {
    const code = (v as { code?: unknown }).code;
    return typeof code === 'string' ? { message: v.message, code } : { message: v.message };
  }
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'function' || typeof v === 'symbol') return String(v);
  if (typeof v !== 'object' || v === null) return v;
  if (depth >= 8) return '[too deep]';
  if (Array.isArray(v)) return v.map((x) => jsonValue(x, depth + 1));
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), jsonValue(x, depth + 1)]));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = jsonValue(x, depth + 1);
  return out;
}
