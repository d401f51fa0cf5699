/**
 * capframe/langchain: capability checks at the tool boundary of LangChain.js
 * agents. Needs `@langchain/core`; the `createAgent` middleware, which also
 * needs `langchain`, is in capframe/langchain/middleware.
 *
 *   const config = loadConfig('capframe.yaml');
 *   const guard = new Guard({ config });
 *   const agent = createAgent({ model, tools: guardTools(tools, guard), middleware: [capframeMiddleware(guard)] });
 *   await agent.invoke(input, { configurable: { capframe: { token, holderKey } } });
 */
export { parseConfig, loadConfig, type CapframeConfig, type ParseOptions } from '../config/parse.ts';
export { definePolicy, type ToolPolicy, type ToolPolicySpec, type PolicySource } from '../config/tools.ts';
export { type AuditSinkKind } from '../config/audit.ts';
export { type ResourceTemplate } from '../config/template.ts';
export type { CallVerifier, CallSigner } from '../verify/call-verifier.ts';
export { Guard, type GuardOptions, type CheckResult, type ApprovalNeeded } from './guard.ts';
export { GuardedTool, guardTool, guardTools, isGuarded } from './tool.ts';
export { credentialsFrom, callContext, CAPFRAME_KEY, type Credentials, type CallContext } from './credentials.ts';
export { delegateCredentials, subAgentConfig, runSubAgent, type DelegationSpec } from './subagent.ts';
export { jsonLinesSink, memorySink, teeSink, type DecisionEvent, type DecisionSink, type JsonLinesSink } from './events.ts';
