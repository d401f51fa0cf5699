/**
 * capframe/deepagents: capability checks for Deep Agents (`deepagents`):
 * sub-agents run on delegated tokens, the built-in file tools are scoped by
 * path. Needs `deepagents`, `langchain` and `@langchain/core`.
 *
 *   const config = loadConfig('capframe.yaml');          // with a subagents: section
 *   const guard = new Guard({ config });                 // from capframe/langchain
 *   const agent = createDeepAgent(guardDeepAgent({ model, tools, subagents }, { guard, config }));
 *   await agent.invoke(input, { configurable: { capframe: { token, holderKey } } });
 */
export { guardDeepAgent } from './guard-deep-agent.ts';
export { capframeDeepAgentMiddleware, type DeepAgentGuardOptions, type ToolCallGuard, type Delegation } from './middleware.ts';
export { FILE_TOOL_NAMES, FILE_TOOL_POLICIES, LISTING_SEGMENT, fileToolView } from './file-tools.ts';
export { childRunConfig } from './credentials.ts';
export { defineSubagent, type SubagentEntry, type SubagentSpec } from '../config/subagents.ts';
