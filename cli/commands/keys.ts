/** Named keys in the home's key store. */
import type { Command } from 'commander';
import { toHex } from '../../chain/bytes.ts';
import type { CommandContext } from '../context.ts';
import { keyJson, rows } from '../format.ts';
import { addKey, listKeys, showKey } from '../keystore.ts';

/** `keys add`, `keys list`, `keys show`. */
export function addKeyCommands(program: Command, ctx: CommandContext): void {
  const keys = program.command('keys').description('named keys in <home>/keys');
  keys.command('add <name>')
    .description('generate a new key')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const k = await addKey(ctx.homeOf(cmd), name);
      ctx.print(cmd, keyJson(k), () => `added key ${k.name}\n` + rows([['address', k.address], ['public key', toHex(k.publicKey)]], '  '));
    });
  keys.command('list')
    .description('list the keys')
    .action(async (_opts: unknown, cmd: Command) => {
      const all = await listKeys(ctx.homeOf(cmd));
      ctx.print(cmd, all.map(keyJson), () => all.length === 0 ? 'no keys (hallmark init or hallmark keys add NAME makes some)\n'
        : rows(all.map((k) => [k.name, k.address])));
    });
  keys.command('show <name>')
    .description('show a key (address and public key; never the secret)')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const k = await showKey(ctx.homeOf(cmd), name);
      ctx.print(cmd, keyJson(k), () => rows([['name', k.name], ['address', k.address], ['public key', toHex(k.publicKey)]]));
    });
}
