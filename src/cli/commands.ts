/** The command table. Add one import and one entry per command. */
import type { Command } from './command.ts';

export const COMMANDS: Command[] = [];
