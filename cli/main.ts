/**
 * The `hallmark` command line (bin/hallmark.js runs it). Human output by default, one JSON document
 * with `--json`. A mistake — a bad option, a missing home, no node at the RPC address, an RPC error —
 * is one line on stderr, `error: <what to fix>`, and exit status 1; never a stack trace
 * (HALLMARK_DEBUG=1 adds one, for bugs). The commands live one group a file in commands/.
 */
import { Command, CommanderError } from 'commander';
import { addChainCommands } from './commands/chain.ts';
import { addContractCommands } from './commands/contract.ts';
import { addKeyCommands } from './commands/keys.ts';
import { addNodeCommands } from './commands/node.ts';
import { addTestnetCommands } from './commands/testnet.ts';
import { addTxCommands } from './commands/tx.ts';
import { addModelCommands } from './commands/model.ts';
import { addZkCommands } from './commands/zk.ts';
import { commandContext, DEFAULT_RPC_URL, errorLine, ExitStatus, type CliIo } from './context.ts';

export { CliError, DEFAULT_RPC_URL, rpcUrlOf, type CliIo } from './context.ts';

export function buildProgram(io: CliIo): Command {
  const program = new Command('hallmark')
    .description('Hallmark validator node: init a home, run the node, manage keys, query and send transactions, fingerprint and verify models')
    .option('--home <dir>', 'home directory (default: $HALLMARK_HOME or ~/.hallmark)')
    .option('--rpc <url>', `node JSON-RPC URL (default: the home's rpc.listen, else ${DEFAULT_RPC_URL})`)
    .option('--json', 'print one JSON document instead of text')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  const ctx = commandContext(io);
  for (const add of [addNodeCommands, addTestnetCommands, addKeyCommands, addChainCommands, addTxCommands, addContractCommands, addModelCommands, addZkCommands]) add(program, ctx);
  return program;
}

/** Runs the CLI; resolves to the exit status (a running `start` keeps the process alive). */
export async function runCli(argv: readonly string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has already printed its own one-line message (or the help).
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof ExitStatus) return err.status;
    io.stderr.write(`error: ${errorLine(err)}\n`);
    if (io.env.HALLMARK_DEBUG && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
