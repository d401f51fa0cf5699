/**
 * The command table. Help comes from usage.ts, which imports no library code;
 * a command's module (and zod, undici, SQLite, cbor-x or whatever it needs)
 * is imported only when that command runs, so `capframe --help` starts about
 * as fast as node itself. Each loader is a literal import() so that
 * scripts/check-layers.mjs sees the edge. Add one entry per command.
 */
import type { Command, CommandHelp, CommandModule } from './command.ts';
import * as help from './usage.ts';

function lazy(h: CommandHelp, load: () => Promise<CommandModule>): Command {
  return { ...h, run: async (argv, io) => (await load()).run(argv, io) };
}

export const COMMANDS: Command[] = [
  lazy(help.keygen, () => import('./commands/keygen.ts')),
  lazy(help.pubkey, () => import('./commands/pubkey.ts')),
  lazy(help.issue, () => import('./commands/issue.ts')),
  lazy(help.delegate, () => import('./commands/delegate.ts')),
  lazy(help.invoke, () => import('./commands/invoke.ts')),
  lazy(help.approve, () => import('./commands/approve.ts')),
  lazy(help.verify, () => import('./commands/verify.ts')),
  lazy(help.inspect, () => import('./commands/inspect.ts')),
  lazy(help.revoke, () => import('./commands/revoke.ts')),
  lazy(help.revocationsExport, () => import('./commands/revocations-export.ts')),
  lazy(help.serve, () => import('./commands/serve.ts')),
  lazy(help.enroll, () => import('./commands/enroll.ts')),
  lazy(help.auditVerify, () => import('./commands/audit-verify.ts')),
];
