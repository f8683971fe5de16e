/** Running a node: `init` writes a devnet home, `start` runs the node from it. */
import { flushCompileCache } from 'node:module';
import { Option, type Command } from 'commander';
import { LOG_FORMATS, LOG_LEVELS, SYNC_MODES, type LogFormat, type LogLevel, type SyncSettings } from '../../node/config.ts';
import { createLogger } from '../../node/log.ts';
import type { CommandContext } from '../context.ts';
import { rows } from '../format.ts';
import { initHome, isInitialized, loadHome } from '../home.ts';

/** How long a halted `start` waits for the node to close before it exits anyway. */
const HALT_CLOSE_TIMEOUT_MS = 10_000;

/** `init` and `start`. */
export function addNodeCommands(program: Command, ctx: CommandContext): void {
  program.command('init')
    .description('write a new single-validator devnet home: config, genesis, validator and faucet keys')
    .option('--chain-id <id>', 'chain id', 'hallmark-devnet')
    .option('--force', 'replace an existing home (deletes its data/)')
    .action(async (opts: { chainId: string; force?: boolean }, cmd: Command) => {
      const home = ctx.homeOf(cmd);
      const r = await initHome(home, { chainId: opts.chainId, force: opts.force });
      ctx.print(cmd, {
        home, chain_id: r.chainId, validator_address: r.validatorAddress, faucet_address: r.faucetAddress,
        faucet_balance: r.genesis.accounts[0]!.balance.toString(), config: r.paths.config, genesis: r.paths.genesis,
      }, () => `initialized ${home} (chain ${r.chainId})\n` + rows([
        ['validator', r.validatorAddress],
        ['faucet', `${r.faucetAddress} (funded with ${r.genesis.accounts[0]!.balance})`],
      ], '  ') + `start the node with: hallmark --home ${home} start\n`);
    });

  program.command('start')
    .description('run the node (initializes the home first if it does not exist)')
    .addOption(new Option('--log-level <level>', 'override [log] level').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'override [log] format').choices(LOG_FORMATS))
    .addOption(new Option('--sync <mode>', 'override [sync] mode: how an empty node catches up (`snapshot`: restore a recent state snapshot, then block sync)').choices(SYNC_MODES))
    .action(async (opts: { logLevel?: LogLevel; logFormat?: LogFormat; sync?: SyncSettings['mode'] }, cmd: Command) => {
      const home = ctx.homeOf(cmd);
      let initialized: Awaited<ReturnType<typeof initHome>> | null = null;
      if (!await isInitialized(home)) initialized = await initHome(home);
      const loaded = await loadHome(home);
      if (opts.sync !== undefined) loaded.config.sync.mode = opts.sync;
      const log = createLogger({
        level: opts.logLevel ?? loaded.config.logLevel,
        format: opts.logFormat ?? loaded.config.logFormat,
        modules: loaded.config.logModules,
      });
      if (initialized) {
        log.info('no home found: initialized a new devnet home', { home, chain_id: initialized.chainId, faucet: initialized.faucetAddress });
      }
      // Loaded here, not at the top: the other commands start faster without the node's modules.
      const { startNode } = await import('../../node/node.ts');
      const running = await startNode({ home, config: loaded.config, genesis: loaded.genesis, validatorKey: loaded.validatorKey, log });
      // The modules are loaded: write their compile cache now (bin/compile-cache.js), not only at a
      // clean exit, which a node stopped by SIGKILL never reaches.
      flushCompileCache();
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          log.warn('second signal: exiting now', { signal });
          process.exit(signal === 'SIGINT' ? 130 : 143);
        }
        stopping = true;
        log.info('shutting down', { signal });
        running.close().then(() => process.exit(0), (err: unknown) => {
          log.error('shutdown failed', { error: err });
          process.exit(1);
        });
      };
      // A node that cannot go on closes what it can and exits 1, for a supervisor to restart it: the
      // restarted node replays its WAL and block store. A close that hangs on a failed disk is not waited for.
      const fail = (msg: string, fields: Record<string, unknown>) => {
        log.error(msg, fields);
        if (stopping) return;
        stopping = true;
        setTimeout(() => process.exit(1), HALT_CLOSE_TIMEOUT_MS).unref();
        running.close().finally(() => process.exit(1));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      void running.halted.then((err) => fail('exiting with status 1: consensus halted', { reason: err.message }));
      // Last resort: every known path contains its errors; one that escapes is a bug, logged with its stack.
      process.on('uncaughtException', (err) => fail('exiting with status 1: uncaught exception', { reason: err.message, error: err }));
      process.on('unhandledRejection', (err) => fail('exiting with status 1: unhandled promise rejection', { reason: (err as Error)?.message ?? String(err), error: err }));
    });
}
