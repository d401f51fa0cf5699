/** capframe/config: the capframe YAML config (capframe.config.example.yaml), one section per consumer. */
export { parseConfig, loadConfig, type CapframeConfig, type ParseOptions } from './parse.ts';
export { definePolicy, type ToolPolicy, type ToolPolicySpec, type PolicySource } from './tools.ts';
export type { AuditSinkKind } from './audit.ts';
export type { RemoteConfig } from './remote.ts';
export type { McpSection } from './mcp.ts';
export { parseServerConfig, loadServerConfig, type ServerConfig } from './server.ts';
export type { ServerSection } from './server-section.ts';
