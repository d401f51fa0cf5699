/**
 * capframe/mcp: capability tokens on Model Context Protocol tool calls
 * (docs/mcp.md). Needs the optional peer `@modelcontextprotocol/sdk` 1.x.
 */
export { guardMcpServer, McpGuard, type McpGuardOptions, type McpDecisionEvent, type AuthBinding } from './server.ts';
export { withCapframe, signCallParams, denialOf, type CapframeClientOptions } from './client.ts';
export { META_KEY, DENIED_CODE, type AdvertisedPolicy, type WireDenial } from './wire.ts';
