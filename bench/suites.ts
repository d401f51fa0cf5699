/** The suite table. Add one import and one entry per suite. */
import type { Suite } from './suite.ts';
import { agentsSuite } from './agents.ts';
import { coreSuite } from './core.ts';
import { langchainSuite } from './langchain.ts';
import { revocationSuite } from './revocation.ts';
import { toolCallsSuite } from './tool-calls.ts';

export const SUITES: Suite[] = [
  coreSuite,
  revocationSuite,
  toolCallsSuite,
  langchainSuite,
  agentsSuite,
];
