/** A local network of validators: `testnet` writes it, `testnet start` runs it (cli/testnet.ts). */
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../../node/config.ts';
import { parseSafeInt } from '../args.ts';
import { CliError, type CommandContext } from '../context.ts';
import { rows } from '../format.ts';
import { resolveHome } from '../home.ts';
import {
  DEFAULT_TESTNET_BASE_PORT, DEFAULT_TESTNET_CHAIN_ID, MAX_TESTNET_VALIDATORS, NODE_LOG_FILE, PORT_STRIDE, startTestnet, TESTNET_FILE,
  TestnetError, writeTestnet, type RunningTestnet,
} from '../testnet.ts';
import { addTestnetNode } from '../testnet-join.ts';

/** `testnet` writes a network, `testnet start` runs it. */
export function addTestnetCommands(program: Command, ctx: CommandContext): void {
  // `testnet` writes a network; `testnet start` (a subcommand) runs one. Commander checks required
  // options up the command chain, so --validators and --dir are checked here rather than declared required.
  const testnet = program.command('testnet')
    .description('write a local N-validator network (testnet start runs it)')
    .option('--validators <n>', `number of validators, 1-${MAX_TESTNET_VALIDATORS}`)
    .option('--dir <dir>', 'directory to write it in (one home per node: DIR/node0, DIR/node1, ...)')
    .option('--chain-id <id>', 'chain id', DEFAULT_TESTNET_CHAIN_ID)
    .option('--base-port <port>', `node i listens on base+${PORT_STRIDE}i (p2p), +1 (RPC), +2 (metrics)`, String(DEFAULT_TESTNET_BASE_PORT))
    .option('--force', 'replace the testnet already in DIR (its testnet.json and node*/ directories)')
    .option('--snapshot-interval <n>', "every node's [snapshot] interval: a state snapshot every n heights (0: none)")
    .allowExcessArguments(true)
    .action(async (opts: { validators?: string; dir?: string; chainId: string; basePort: string; force?: boolean; snapshotInterval?: string }, cmd: Command) => {
      if (cmd.args.length > 0) throw new CliError('usage', `testnet: unknown command ${JSON.stringify(cmd.args[0])} (did you mean "testnet start"?)`);
      if (opts.validators === undefined) throw new CliError('usage', '--validators <n> is required (e.g. hallmark testnet --validators 4 --dir /tmp/tn)');
      if (opts.dir === undefined) throw new CliError('usage', '--dir <dir> is required (e.g. hallmark testnet --validators 4 --dir /tmp/tn)');
      const layout = await writeTestnet({
        dir: resolveHome(opts.dir, ctx.io.env), validators: parseSafeInt(opts.validators, '--validators'), chainId: opts.chainId,
        basePort: parseSafeInt(opts.basePort, '--base-port'), force: opts.force,
        ...(opts.snapshotInterval !== undefined && { snapshotInterval: parseSafeInt(opts.snapshotInterval, '--snapshot-interval') }),
      });
      ctx.print(cmd, {
        dir: layout.dir, chain_id: layout.chainId, faucet_address: layout.faucetAddress, testnet_file: join(layout.dir, TESTNET_FILE),
        nodes: layout.nodes.map((n) => ({
          name: n.name, home: n.home, validator_address: n.validatorAddress, peer_id: n.peerId,
          p2p: n.p2pMultiaddr, rpc: n.rpcUrl, metrics: n.metricsUrl, log: n.logPath,
        })),
      }, () => `wrote a ${layout.nodes.length}-validator testnet in ${layout.dir} (chain ${layout.chainId})\n`
        + rows(layout.nodes.map((n) => [n.name, `rpc ${n.rpcUrl}  p2p ${n.p2pPort}  metrics ${n.metricsPort}  validator ${n.validatorAddress}`]), '  ')
        + `  faucet  ${layout.faucetAddress} (keys/faucet.json in every node's home)\n`
        + `start it with: hallmark testnet start --dir ${layout.dir}\n`);
    });

  testnet.command('add-node')
    .description("write a home for one more node of DIR's testnet: a full node that follows the validators (not run by testnet start)")
    .option('--dir <dir>', 'the directory hallmark testnet wrote')
    .action(async (opts: { dir?: string }, cmd: Command) => {
      const dirText = opts.dir ?? ctx.globals(cmd).dir;
      if (dirText === undefined) throw new CliError('usage', '--dir <dir> is required (e.g. hallmark testnet add-node --dir /tmp/tn)');
      const n = await addTestnetNode(resolveHome(dirText, ctx.io.env));
      ctx.print(cmd, { name: n.name, home: n.home, peer_id: n.peerId, p2p_port: n.p2pPort, rpc: n.rpcUrl, metrics_port: n.metricsPort, peers: n.peers },
        () => `wrote ${n.name} in ${n.home}: rpc ${n.rpcUrl}  p2p ${n.p2pPort}, following ${n.peers} validators
`
          + `join the running testnet with: hallmark --home ${n.home} start --sync snapshot
`);
    });

  testnet.command('start')
    .description("run every node of DIR's testnet as its own process until Ctrl-C (logs in DIR/node*/node.log)")
    .option('--dir <dir>', 'the directory hallmark testnet wrote')
    .addOption(new Option('--log-level <level>', "override each node's [log] level").choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', "override each node's [log] format").choices(LOG_FORMATS))
    .action(async (opts: { dir?: string; logLevel?: LogLevel; logFormat?: LogFormat }, cmd: Command) => {
      const dirText = opts.dir ?? ctx.globals(cmd).dir;
      if (dirText === undefined) throw new CliError('usage', '--dir <dir> is required (e.g. hallmark testnet start --dir /tmp/tn)');
      const nodeArgs = [...(opts.logLevel ? ['--log-level', opts.logLevel] : []), ...(opts.logFormat ? ['--log-format', opts.logFormat] : [])];
      const err = (s: string) => ctx.io.stderr.write(s);
      // Handlers first: a Ctrl-C while the nodes are being spawned must still stop them.
      let tn: RunningTestnet | null = null;
      let signalled: NodeJS.Signals | null = null;
      let onSignal: (s: NodeJS.Signals) => void = () => {};
      const gotSignal = new Promise<NodeJS.Signals>((r) => {
        onSignal = (s) => {
          if (signalled !== null) {
            err(`second ${s}: killing the nodes\n`);
            tn?.kill();
            return;
          }
          signalled = s;
          r(s);
        };
      });
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        let allGone: () => void = () => {};
        const allExited = new Promise<null>((r) => (allGone = () => r(null)));
        tn = await startTestnet({
          dir: resolveHome(dirText, ctx.io.env), nodeArgs, env: ctx.io.env,
          onExit: (e) => {
            const log = tn?.nodes.find((n) => n.name === e.name)?.logPath ?? `its ${NODE_LOG_FILE}`;
            err(`${e.name} (pid ${e.pid}) exited with ${e.signal ? `signal ${e.signal}` : `code ${e.code}`}; see ${log}\n`);
            if (tn && tn.running() === 0) allGone();
          },
        });
        const running = tn;
        ctx.print(cmd, {
          dir: running.layout.dir, chain_id: running.layout.chainId,
          nodes: running.nodes.map((n) => ({ name: n.name, pid: n.pid, rpc: n.rpcUrl, log: n.logPath })),
        }, () => `started ${running.nodes.length} nodes of ${running.layout.chainId} (Ctrl-C stops them)\n`
          + rows(running.nodes.map((n) => [n.name, `pid ${n.pid}  rpc ${n.rpcUrl}  log ${n.logPath}`]), '  '));
        // Nodes that died before `tn` was set.
        if (running.running() === 0) allGone();
        const why = await Promise.race([gotSignal, allExited]);
        if (why === null) {
          throw new TestnetError('testnet_exited', `every node of the testnet exited; see the logs in ${running.layout.dir}/node*/${NODE_LOG_FILE}`);
        }
        err(`${why}: stopping ${running.running()} nodes\n`);
        const exits = await running.stop();
        for (const e of exits.filter((x) => x.stopped && x.code !== 0)) {
          err(`${e.name} did not exit cleanly (${e.signal ? `signal ${e.signal}` : `code ${e.code}`}); see ${join(running.layout.dir, e.name, NODE_LOG_FILE)}\n`);
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
