/**
 * The `mcp:` section of the capframe config: session calls on MCP (docs/spec.md
 * §4.7) for the guard of an MCP server (`guardMcpServer(server, { config })`)
 * and for a client (`withCapframe(client, { config, ... })`).
 *
 *   mcp:
 *     server:                      # read by guardMcpServer
 *       sessions:                  # take session calls over Streamable HTTP (signed proofs still accepted)
 *         keyFile: ./mcp-session.key   # the MCP server's Ed25519 PRIVATE key file (capframe keygen); clients pin its public key
 *         maxTtl: 3600             # longest session, seconds
 *         maxPerHolder: 64         # live sessions per holder key (a new one ends that holder's oldest)
 *         maxSessions: 100000      # live sessions in total (beyond: ERR_SESSION_LIMIT)
 *         handshakesPerSecond: 20  # per client (OAuth client, else MCP session), burst twice that
 *     client:                      # read by withCapframe
 *       serviceKey: cfk1.…         # the MCP server's session key, pinned: calls go over sessions when it offers them
 *       sessions: true             # default true with serviceKey; false: every call signed
 *       sessionTtl: 3600           # seconds asked for per session
 *
 * The key file's path resolves against the config file's directory; the file
 * is read when the guard is built, never at parse time (a client host that
 * shares the config has no server key).
 */
import { z } from 'zod';
import { sessionsSectionSchema } from './sessions.ts';

const sessionKeySchema = z.string().regex(/^cfk1\.[A-Za-z0-9_-]{43}$/, { message: "expected the MCP server's session public key (cfk1.…)" });

export const mcpSectionSchema = z.strictObject({
  server: z
    .strictObject({
      sessions: sessionsSectionSchema.optional(),
    })
    .optional(),
  client: z
    .strictObject({
      serviceKey: sessionKeySchema.optional(),
      sessions: z.boolean().optional(),
      sessionTtl: z.number().int().min(60).max(86_400).optional(),
    })
    .refine((c) => c.sessions !== true || c.serviceKey !== undefined, { message: 'sessions: true needs the pinned serviceKey', path: ['sessions'] })
    .optional(),
});

export type McpSection = z.infer<typeof mcpSectionSchema>;
