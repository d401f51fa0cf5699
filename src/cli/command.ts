/** What every CLI command module exports. One command per file in src/cli/commands/. */
export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export interface Command {
  /** e.g. `keygen`, or `revocations export` for a two-word command. */
  readonly name: string;
  /** One line for `capframe --help`. */
  readonly summary: string;
  /** Full text for `capframe NAME --help`. */
  readonly usage: string;
  /** Returns the exit code: 0 success, 1 denial or failed check, 2 usage error. */
  run(argv: string[], io: Io): Promise<number>;
}
