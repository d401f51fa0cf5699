/**
 * capframe/langchain: capability checks at the tool boundary of LangChain.js agents.
 *
 *   const config = loadConfig('capframe.yaml');
 *   const guard = new Guard({ config });
 *   const agent = createAgent({ model, tools: guardTools(tools, guard), middleware: [capframeMiddleware(guard)] });
 *   await agent.invoke(input, { configurable: { capframe: { token, holderKey } } });
 */
export { parseConfig, loadConfig, type CapframeConfig, type ParseOptions } from '../config/parse.ts';
export { definePolicy, type ToolPolicy, type ToolPolicySpec, type PolicySource } from '../config/tools.ts';
export { type AuditSinkKind } from '../config/audit.ts';
export { compileTemplate, encodeValue, type ResourceTemplate } from '../config/template.ts';
export {
  Guard, GuardedTool, guardTool, guardTools, isGuarded, credentialsFrom, callContext, denialMessage, argumentNames, CAPFRAME_KEY,
  type GuardOptions, type CallVerifier, type Credentials, type CallContext, type CheckResult,
} from './guard.ts';
export { capframeMiddleware } from './middleware.ts';
export { delegateCredentials, subAgentConfig, runSubAgent, type DelegationSpec } from './subagent.ts';
export { jsonLinesSink, memorySink, teeSink, type DecisionEvent, type DecisionSink, type JsonLinesSink } from './events.ts';
