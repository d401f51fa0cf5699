/**
 * capframe/mcp: capability tokens on Model Context Protocol tool calls
 * (docs/mcp.md). Needs the optional peer `@modelcontextprotocol/sdk` 1.x.
 */
export { guardMcpServer, McpGuard, type McpGuardOptions, type McpDecisionEvent, type AuthBinding } from './server.ts';
export { withCapframe, signCallParams, denialOf, capframeSessionStats, type CapframeClientOptions, type CapframeSessionStats } from './client.ts';
export {
  META_KEY,
  DENIED_CODE,
  SESSION_NONCE_METHOD,
  SESSION_OPEN_METHOD,
  type AdvertisedPolicy,
  type AdvertisedSessions,
  type WireDenial,
  type WireSessionAnswer,
} from './wire.ts';
