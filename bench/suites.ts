/** The suite table. Add one import and one entry per suite. */
import type { Suite } from './suite.ts';
import { cliSuite } from './cli.ts';
import { agentsSuite } from './agents.ts';
import { coreSuite } from './core.ts';
import { langchainSuite } from './langchain.ts';
import { mcpSuite } from './mcp.ts';
import { revocationSuite } from './revocation.ts';
import { toolCallsSuite } from './tool-calls.ts';
import { clusterSuite } from './cluster.ts';
import { sinksSuite } from './sinks.ts';
import { limitsSuite } from './limits.ts';
import { signersSuite } from './signers.ts';
import { approvalsSuite } from './approvals.ts';
import { authoritySuite } from './authority.ts';

export const SUITES: Suite[] = [
  coreSuite,
  revocationSuite,
  toolCallsSuite,
  langchainSuite,
  cliSuite,
  mcpSuite,
  clusterSuite,
  agentsSuite,
  sinksSuite,
  limitsSuite,
  signersSuite,
  approvalsSuite,
  authoritySuite,
];
