/** What the CLI's command table holds, and what every command module exports. */
export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** Runs a command; returns the exit code: 0 success, 1 denial or failed check, 2 usage error. */
export type Run = (argv: string[], io: Io) => Promise<number>;

/** A command module (src/cli/commands/NAME.ts) exports its `run`. */
export interface CommandModule {
  readonly run: Run;
}

/** What `--help` shows of a command; needs none of the command's code. */
export interface CommandHelp {
  /** e.g. `keygen`, or `revocations export` for a two-word command. */
  readonly name: string;
  /** One line for `capframe --help`. */
  readonly summary: string;
  /** Full text for `capframe NAME --help`. */
  readonly usage: string;
}

export interface Command extends CommandHelp {
  readonly run: Run;
}
