/** The suite table. Add one import and one entry per suite. */
import type { Suite } from './suite.ts';

export const SUITES: Suite[] = [];
