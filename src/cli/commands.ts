/** The command table. Add one import and one entry per command (two-word names such as `audit verify` work). */
import type { Command } from './command.ts';
import { keygen } from './commands/keygen.ts';
import { issue } from './commands/issue.ts';
import { delegate } from './commands/delegate.ts';
import { invoke } from './commands/invoke.ts';
import { verify } from './commands/verify.ts';
import { inspect } from './commands/inspect.ts';
import { revoke } from './commands/revoke.ts';
import { revocationsExport } from './commands/revocations-export.ts';
import { serve } from './commands/serve.ts';
import { auditVerify } from './commands/audit-verify.ts';

export const COMMANDS: Command[] = [keygen, issue, delegate, invoke, verify, inspect, revoke, revocationsExport, serve, auditVerify];
