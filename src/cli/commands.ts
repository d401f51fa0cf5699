/** The command table. Add one import and one entry per command (two-word names such as `audit verify` work). */
import type { Command } from './command.ts';
import { keygen } from './commands/keygen.ts';
import { issue } from './commands/issue.ts';
import { delegate } from './commands/delegate.ts';
import { invoke } from './commands/invoke.ts';
import { verify } from './commands/verify.ts';
import { inspect } from './commands/inspect.ts';

export const COMMANDS: Command[] = [keygen, issue, delegate, invoke, verify, inspect];
