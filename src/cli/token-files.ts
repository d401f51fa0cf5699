/** Token and invocation proof arguments: a file, or the text form itself. Apart from files.ts, which key commands load without the token codec. */
import { TOKEN_PREFIX } from '../token/token.ts';
import { INVOCATION_PREFIX } from '../token/invocation.ts';
import type { Io } from './command.ts';
import { readInput } from './files.ts';

/** `--token FILE` (or the `cft1.` text itself). */
export function readTokenText(io: Io, arg: string, flag = 'token'): string {
  if (arg.trim().startsWith(TOKEN_PREFIX)) return arg.trim();
  return readInput(io, arg, `--${flag} file`).trim();
}

/** `--invocation FILE` (or the `cfi1.` text itself). */
export function readInvocationText(io: Io, arg: string): string {
  if (arg.trim().startsWith(INVOCATION_PREFIX)) return arg.trim();
  return readInput(io, arg, '--invocation file').trim();
}
