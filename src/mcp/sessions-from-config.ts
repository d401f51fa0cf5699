/**
 * The SessionTable an MCP guard builds from the config's `mcp.server.sessions`
 * (src/config/mcp.ts): the server's session key read from its key file, the
 * table's caps, on the guard's verifier.
 */
import type { CapframeConfig } from '../config/parse.ts';
import { sessionTableOptions } from '../config/sessions.ts';
import { SessionTable } from '../verify/session-table.ts';
import type { Verifier } from '../verify/verifier.ts';

/** Undefined when the config has no `mcp.server.sessions`. Throws ERR_CONFIG when the key file cannot be read or is not a private key. */
export function sessionTableFromConfig(config: CapframeConfig, verifier: Verifier): SessionTable | undefined {
  const sec = config.mcp?.server?.sessions;
  if (!sec) return undefined;
  return new SessionTable({ verifier, ...sessionTableOptions(sec, sec.keyFile, `${config.file}: mcp.server.sessions.keyFile`) });
}
