/** Reading the chain: the node's status, an account, a block. */
import type { Command } from 'commander';
import { parseSafeInt, resolveAddress } from '../args.ts';
import type { CommandContext } from '../context.ts';
import { rows } from '../format.ts';

/** `status`, `account` and `block`. */
export function addChainCommands(program: Command, ctx: CommandContext): void {
  program.command('status')
    .description("the node's chain, height and latest block")
    .action(async (_opts: unknown, cmd: Command) => {
      const s = await (await ctx.rpcOf(cmd)).call('chain_status');
      ctx.print(cmd, s, () => rows([
        ['chain id', s.chain_id], ['node id', s.node_id], ['validator', s.validator_address],
        ['height', s.latest_height], ['block hash', s.latest_block_hash], ['block time', s.latest_block_time],
        ['state root', s.latest_state_root], ['catching up', s.catching_up ? 'yes' : 'no'],
        ['earliest block', s.earliest_block_height ?? 'none'], ['snapshot', s.latest_snapshot_height ?? 'none'],
      ]));
    });

  program.command('account <address>')
    .description('balance and nonce of an address or of a named key')
    .action(async (who: string, _opts: unknown, cmd: Command) => {
      const address = await resolveAddress(ctx.homeOf(cmd), who, 'account');
      const a = await (await ctx.rpcOf(cmd)).call('state_getAccount', { address });
      ctx.print(cmd, a, () => rows([['address', a.address], ['balance', a.balance], ['nonce', a.nonce], ['height', a.height]]));
    });

  program.command('block [height]')
    .description('a block by height or hash (default: the latest)')
    .action(async (which: string | undefined, _opts: unknown, cmd: Command) => {
      const params = which === undefined ? {}
        : /^[0-9a-fA-F]{64}$/.test(which) ? { hash: which.toLowerCase() }
        : { height: parseSafeInt(which, 'height') };
      const b = await (await ctx.rpcOf(cmd)).call('chain_getBlock', params);
      const h = b.header;
      ctx.print(cmd, b, () => rows([
        ['height', h.height], ['hash', b.hash], ['chain id', h.chain_id], ['time', h.time], ['proposer', h.proposer],
        ['txs', b.txs.length],
      ]) + b.txs.map((t) => `  ${t.hash}\n`).join(''));
    });
}
