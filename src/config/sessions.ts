/**
 * A `sessions:` block of the config (docs/spec.md §13, §4.7), the same for the
 * verification service (`server.sessions`) and an MCP server
 * (`mcp.server.sessions`): the service's session key file and the caps of its
 * SessionTable.
 */
import { z } from 'zod';
import { keySigner } from '../crypto/signer.ts';
import { readFileSync } from 'node:fs';
import { parsePrivateKey, type PrivateKey } from '../crypto/keys.ts';
import { ConfigError } from '../errors.ts';
import type { SessionTableOptions } from '../verify/session-table.ts';

export const sessionsSectionSchema = z.strictObject({
  keyFile: z.string().min(1),
  maxTtl: z.number().int().min(60).max(86_400).optional(),
  maxPerHolder: z.number().int().min(1).max(1_000_000).optional(),
  maxSessions: z.number().int().min(1).max(10_000_000).optional(),
  handshakesPerSecond: z.number().int().min(1).max(1_000_000).optional(),
});
export type SessionsSection = z.infer<typeof sessionsSectionSchema>;

/**
 * The SessionTable options of a `sessions:` block, with its key read from
 * `keyPath` (resolved by the caller). ERR_CONFIG names `where` (e.g.
 * `file: server.sessions.keyFile`) and the reason, never the file's content.
 */
export function sessionTableOptions(sec: SessionsSection, keyPath: string, where: string): Omit<SessionTableOptions, 'verifier'> {
  return {
    signer: keySigner(readKey(keyPath, where)),
    ...(sec.maxTtl !== undefined ? { maxTtl: sec.maxTtl } : {}),
    ...(sec.maxPerHolder !== undefined ? { maxPerHolder: sec.maxPerHolder } : {}),
    ...(sec.maxSessions !== undefined ? { maxSessions: sec.maxSessions } : {}),
    ...(sec.handshakesPerSecond !== undefined ? { handshakesPerSecond: sec.handshakesPerSecond } : {}),
  };
}

function readKey(keyPath: string, where: string): PrivateKey {
  try {
    return parsePrivateKey(readFileSync(keyPath, 'utf8'));
  } catch (e) {
    // The code or the parser's message only: never the file's content.
    throw new ConfigError(`${where}: cannot read ${keyPath} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
