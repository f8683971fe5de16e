/**
 * What every command group gets: the process's streams and environment, the global options
 * (--home, --rpc, --json), printing either for people or as one JSON document, and the node's
 * JSON-RPC client (rpc/client.ts, typed by the server's method table).
 */
import type { Command } from 'commander';
import { CodedError } from '../chain/errors.ts';
import { loadConfig, type NodeConfig } from '../node/config.ts';
import { resolveHome } from './home.ts';
import { RpcClient, RpcClientError, type RpcClientErrorCode } from '../rpc/client.ts';

export const DEFAULT_RPC_URL = 'http://127.0.0.1:26657';

/** The client gives up on a request after this long (a committed-wait broadcast included). */
const RPC_CLIENT_TIMEOUT_MS = 120_000;

export class CliError extends CodedError<'usage' | 'tx_failed'> {}

/**
 * A command that has printed its outcome and ends with a status other than 0 or 1 (`model verify`'s
 * verdicts): runCli returns `status` and prints nothing more.
 */
export class ExitStatus extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'ExitStatus';
    this.status = status;
  }
}

export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: NodeJS.ProcessEnv;
}

export interface GlobalOptions {
  home?: string;
  /** `testnet --dir`, seen by `testnet start` when written before it. */
  dir?: string;
  rpc?: string;
  json?: boolean;
}

export interface CommandContext {
  readonly io: CliIo;
  globals(cmd: Command): GlobalOptions;
  /** The home directory: --home, else $HALLMARK_HOME, else ~/.hallmark. */
  homeOf(cmd: Command): string;
  /** `json` with --json, else `text()`. */
  print(cmd: Command, json: unknown, text: () => string): void;
  /** A client of the node at --rpc, else at the home's [rpc] listen address. */
  rpcOf(cmd: Command): Promise<RpcClient>;
}

export function commandContext(io: CliIo): CommandContext {
  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();
  const homeOf = (cmd: Command) => resolveHome(globals(cmd).home, io.env);
  return {
    io,
    globals,
    homeOf,
    print: (cmd, json, text) => {
      io.stdout.write(globals(cmd).json ? `${JSON.stringify(json, null, 2)}\n` : text());
    },
    rpcOf: async (cmd) => {
      const g = globals(cmd);
      const url = g.rpc ?? rpcUrlOf(await loadConfig(homeOf(cmd)));
      try {
        return new RpcClient(url, { timeoutMs: RPC_CLIENT_TIMEOUT_MS });
      } catch (err) {
        if (err instanceof RpcClientError) throw new CliError('usage', `--rpc: ${err.message}`);
        throw err;
      }
    },
  };
}

function hostForClient(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** The RPC URL a client should use for a node configured with `config`. */
export function rpcUrlOf(config: NodeConfig): string {
  return config.rpc.port === 0 ? DEFAULT_RPC_URL : `http://${hostForClient(config.rpc.host)}:${config.rpc.port}`;
}

/** What a user can do about a failed call, after the client's own message. */
const CLIENT_HINTS: Partial<Record<RpcClientErrorCode, string>> = {
  no_node: 'start one with npm start',
  not_json_rpc: 'is --rpc a Hallmark node?',
  bad_result: 'is --rpc a Hallmark node of this version?',
};

/** The one line a failed command prints after `error: `. */
export function errorLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const hint = err instanceof RpcClientError ? CLIENT_HINTS[err.code] : undefined;
  return `${message}${hint === undefined ? '' : ` (${hint})`}`.split('\n').join('; ');
}
