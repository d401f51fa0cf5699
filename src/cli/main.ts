/**
 * The `capframe` CLI entry point: finds the command (one or two words), handles
 * --help, and maps failures to exit codes:
 *   0 success; 1 a denial, a refused operation (CapframeError: `CODE: message`)
 *   or another failure; 2 a usage error. Every error is one line on stderr.
 */
import { readFileSync } from 'node:fs';
import { CapframeError } from '../errors.ts';
import type { Command, Io } from './command.ts';
import { COMMANDS } from './commands.ts';
import { Failure, UsageError, wantsHelp } from './args.ts';

/** The real process: stdout, stderr, environment, working directory. */
export function processIo(): Io {
  return {
    stdout: (t) => {
      process.stdout.write(t);
    },
    stderr: (t) => {
      process.stderr.write(t);
    },
    env: process.env,
    cwd: process.cwd(),
  };
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function topHelp(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `capframe: capability tokens at the tool boundary of LLM agents

Usage: capframe COMMAND [options]
       capframe COMMAND --help     help for one command

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Keys: 'capframe keygen --out NAME.key' writes the private key NAME.key (0600)
and the public key NAME.pub; wherever a public key is expected, give NAME.pub
or its cfk1.... text. Token and proof files are written 0600 (credentials).
Exit status: 0 success, 1 denied or failed, 2 usage error.
`;
}

/** The command named by the first one or two words of argv (longest match wins). */
export function findCommand(argv: readonly string[], commands: readonly Command[] = COMMANDS): { command: Command; rest: string[] } | undefined {
  let best: { command: Command; rest: string[] } | undefined;
  let bestWords = 0;
  for (const c of commands) {
    const words = c.name.split(' ');
    if (words.length > bestWords && words.every((w, i) => argv[i] === w)) {
      best = { command: c, rest: argv.slice(words.length) };
      bestWords = words.length;
    }
  }
  return best;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

export async function main(argv: string[], io: Io = processIo(), commands: readonly Command[] = COMMANDS): Promise<number> {
  const first = argv[0];
  if (first === undefined) {
    io.stderr('capframe: missing command (see capframe --help)\n');
    return 2;
  }
  if (first === '--help' || first === '-h') {
    io.stdout(topHelp(commands));
    return 0;
  }
  if (first === '--version' || first === '-V') {
    io.stdout(version() + '\n');
    return 0;
  }
  if (first === 'help') {
    if (argv.length === 1) {
      io.stdout(topHelp(commands));
      return 0;
    }
    const found = findCommand(argv.slice(1), commands);
    if (!found || found.rest.length > 0) {
      io.stderr(`capframe: unknown command '${argv.slice(1).join(' ')}' (see capframe --help)\n`);
      return 2;
    }
    io.stdout(found.command.usage.trimEnd() + '\n');
    return 0;
  }
  const found = findCommand(argv, commands);
  if (!found && wantsHelp(argv.slice(1))) {
    // `capframe revocations --help`, `capframe audit --help`: the help of the group's commands.
    const group = commands.filter((c) => c.name.split(' ')[0] === first && c.name.includes(' '));
    if (group.length > 0) {
      io.stdout(group.map((c) => c.usage.trimEnd()).join('\n\n') + '\n');
      return 0;
    }
  }
  if (!found) {
    const groups = commands.filter((c) => c.name.includes(' ') && c.name.split(' ')[0] === first).map((c) => `'${c.name}'`);
    const hint = groups.length > 0 ? `; did you mean ${groups.join(' or ')}?` : ' (see capframe --help)';
    io.stderr(`capframe: unknown command '${oneLine(first)}'${hint}\n`);
    return 2;
  }
  const { command, rest } = found;
  if (wantsHelp(rest)) {
    io.stdout(command.usage.trimEnd() + '\n');
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`capframe ${command.name}: ${oneLine(e.message)} (see capframe ${command.name} --help)\n`);
      return 2;
    }
    if (e instanceof CapframeError) {
      io.stderr(`${e.code}: ${oneLine(e.message)}\n`);
      return 1;
    }
    if (e instanceof Failure) {
      io.stderr(`capframe ${command.name}: ${oneLine(e.message)}\n`);
      return 1;
    }
    // Not expected: report it on one line without a stack trace (set CAPFRAME_DEBUG=1 for the stack).
    const msg = e instanceof Error ? e.message : String(e);
    io.stderr(`capframe ${command.name}: internal error: ${oneLine(msg)}\n`);
    if (io.env.CAPFRAME_DEBUG) io.stderr(`${(e as Error)?.stack ?? ''}\n`);
    return 1;
  }
}
