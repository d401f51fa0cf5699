/**
 * The SessionTable an MCP guard builds from the config's `mcp.server.sessions`
 * (src/config/mcp.ts): the server's session key read from its key file, the
 * table's caps, on the guard's verifier.
 */
import { readFileSync } from 'node:fs';
import { parsePrivateKey } from '../crypto/keys.ts';
import { keySigner } from '../crypto/signer.ts';
import { ConfigError } from '../errors.ts';
import type { CapframeConfig } from '../config/parse.ts';
import { SessionTable } from '../verify/session-table.ts';
import type { Verifier } from '../verify/verifier.ts';

/** Undefined when the config has no `mcp.server.sessions`. Throws ERR_CONFIG when the key file cannot be read or is not a private key. */
export function sessionTableFromConfig(config: CapframeConfig, verifier: Verifier): SessionTable | undefined {
  const sec = config.mcp?.server?.sessions;
  if (!sec) return undefined;
  let key;
  try {
    key = parsePrivateKey(readFileSync(sec.keyFile, 'utf8'));
  } catch (e) {
    // The code or the parser's message only: never the file's content.
    throw new ConfigError(
      `${config.file}: mcp.server.sessions.keyFile: cannot read ${sec.keyFile} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  return new SessionTable({
    verifier,
    signer: keySigner(key),
    ...(sec.maxTtl !== undefined ? { maxTtl: sec.maxTtl } : {}),
    ...(sec.maxPerHolder !== undefined ? { maxPerHolder: sec.maxPerHolder } : {}),
    ...(sec.maxSessions !== undefined ? { maxSessions: sec.maxSessions } : {}),
    ...(sec.handshakesPerSecond !== undefined ? { handshakesPerSecond: sec.handshakesPerSecond } : {}),
  });
}
