/**
 * The node's logger: pino behind the small interface the code logs through (`log.info(msg,
 * fields)`, `child(fields)`), with a level per module and two formats.
 *
 *   text  2026-11-23T10:00:00.000Z INFO: committed block height=5 txs=3 hash=000102030405…
 *   json  {"level":"info","time":"2026-11-23T10:00:00.000Z","height":5,…,"msg":"committed block"}
 *
 * Text is for people (pino-pretty): one line a record, byte strings shortened to a greppable hex
 * prefix; an error's stack, and its causes' stacks, follow on indented lines. JSON is for machines:
 * byte strings in full hex, bigints as decimal strings (no JSON reader rounds them), errors as
 * `{type, message, code, stack, cause}`. A child whose `module` field has a level of its own in
 * `modules` logs at that level, other children at their parent's. The clock and the output stream are
 * passed in so tests read exact lines.
 */
import { createRequire } from 'node:module';
import { LOG_LEVELS, type LogFormat, type LogLevel } from './config.ts';

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
  isTTY?: boolean;
}

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Levels by module: a child made with `{ module: name }` logs at `modules[name]` if it is set. */
  modules?: Readonly<Partial<Record<string, LogLevel>>>;
  /** Where lines go; process.stdout by default. */
  stream?: LogStream;
  /** Milliseconds since the epoch; Date.now by default. */
  now?: () => number;
}

type Emitting = Exclude<LogLevel, 'silent'>;
type Pino = import('pino').Logger;
/** Text-format hex of longer byte strings is cut to this many characters. */
const TEXT_HEX_CHARS = 12;
/** Keys of the record itself; a field of the same name is written as `field_<name>`. */
const RECORD_KEYS = new Set(['time', 'level', 'msg']);
// pino and pino-pretty are loaded with the first logger, not on import: the CLI's other commands never pay for them.
const load = createRequire(import.meta.url);
const pinoModule = () => load('pino') as typeof import('pino').default;

export function createLogger(opts: LoggerOptions): Logger {
  for (const [what, level] of [['log level', opts.level], ...Object.entries(opts.modules ?? {}).map(([m, l]) => [`log level of ${m}`, l])]) {
    if (!LOG_LEVELS.includes(level as LogLevel)) throw new RangeError(`${what}: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
  }
  if (opts.format !== 'text' && opts.format !== 'json') throw new RangeError(`log format: expected text or json, got ${JSON.stringify(opts.format)}`);
  const stream = opts.stream ?? process.stdout;
  const now = opts.now ?? Date.now;
  const text = opts.format === 'text';
  const root = pinoModule()({
    level: opts.level,
    base: null,
    timestamp: () => `,"time":"${new Date(now()).toISOString()}"`,
    formatters: { level: (label) => ({ level: label }), log: (fields) => plainFields(fields, text) },
  }, text ? textStream(stream) : stream);
  // One pino logger per level; fields are merged here, not bound with pino's child(), which would write a
  // key that a child overrides twice in one JSON object.
  const byLevel = new Map<LogLevel, Pino>([[opts.level, root]]);
  const at = (level: LogLevel): Pino => byLevel.get(level) ?? byLevel.set(level, root.child({}, { level })).get(level)!;

  const make = (level: LogLevel, bound: LogFields): Logger => {
    const p = at(level);
    const emit = (name: Emitting) => (msg: string, fields?: LogFields): void => {
      if (p.isLevelEnabled(name)) p[name](fields ? { ...bound, ...fields } : bound, msg);
    };
    return {
      debug: emit('debug'),
      info: emit('info'),
      warn: emit('warn'),
      error: emit('error'),
      child: (fields) => make((typeof fields.module === 'string' ? opts.modules?.[fields.module] : undefined) ?? level, { ...bound, ...fields }),
    };
  };
  return make(opts.level, {});
}

// ---- values ----------------------------------------------------------------------------------------

function plainFields(fields: LogFields, text: boolean): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[RECORD_KEYS.has(k) ? `field_${k}` : k] = plain(v, text, 0);
  return out;
}

/** A JSON-safe copy: bigints as strings, bytes as hex (shortened in text), errors with stack and cause; cycles cut. */
function plain(v: unknown, text: boolean, depth: number): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) {
    const h = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
    return text && h.length > TEXT_HEX_CHARS ? `${h.slice(0, TEXT_HEX_CHARS)}…` : h;
  }
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (v instanceof Error) return plain(pinoModule().stdSerializers.errWithCause(v), text, depth);
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'function' || typeof v === 'symbol') return String(v);
  if (typeof v !== 'object' || v === null) return v;
  if (depth >= 8) return '[too deep]';
  if (Array.isArray(v)) return v.map((x) => plain(x, text, depth + 1));
  const entries = v instanceof Map ? [...v].map(([k, x]) => [String(k), x] as const) : Object.entries(v);
  return Object.fromEntries(entries.map(([k, x]) => [k, plain(x, text, depth + 1)]));
}

// ---- text --------------------------------------------------------------------------------------------

/** A stream that writes each JSON record pino makes as a text line. */
function textStream(out: LogStream): LogStream {
  const { prettyFactory } = load('pino-pretty') as typeof import('pino-pretty');
  const pretty = prettyFactory({
    colorize: out.isTTY === true,
    translateTime: false,
    hideObject: true,
    customPrettifiers: { time: (t) => String(t), level: (level, _k, _r, { labelColorized }) => (out.isTTY ? labelColorized : String(level).toUpperCase()) },
    messageFormat: (record, messageKey) => textMessage(record, messageKey),
  });
  return { write: (line) => out.write(pretty(line)) };
}

type ErrorRecord = { message: string; stack: string; code?: unknown; cause?: unknown };
const isError = (v: unknown): v is ErrorRecord =>
  typeof v === 'object' && v !== null && typeof (v as ErrorRecord).message === 'string' && typeof (v as ErrorRecord).stack === 'string';

/** `msg key=value …`, then the stack of each error field and of its causes, indented. */
function textMessage(record: Record<string, unknown>, messageKey: string): string {
  let s = String(record[messageKey]).replace(/\r?\n/g, '\\n');
  let stacks = '';
  for (const [k, v] of Object.entries(record)) {
    if (k === messageKey || k === 'time' || k === 'level') continue;
    s += ` ${k}=${textValue(v)}`;
    for (let e = v, label = ''; isError(e); e = e.cause, label = 'caused by: ') stacks += `\n    ${label}${e.stack.replace(/\n/g, '\n    ')}`;
  }
  return s + stacks;
}

function textValue(v: unknown): string {
  if (isError(v)) return JSON.stringify(typeof v.code === 'string' ? `${v.code}: ${v.message}` : v.message);
  if (typeof v === 'string') return v === '' || /[\s"=\\]/.test(v) ? JSON.stringify(v) : v;
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}
