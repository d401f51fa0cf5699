import { z } from 'zod';

/**
 * The `remote:` section of the capframe config (a Guard built from a config with it uses the client in src/remote/):
 *
 *   remote:
 *     url: http://127.0.0.1:8787   # the capframe serve instance
 *     timeout: 2000                # ms per verification
 *     connections: 16
 *     batch: true
 *     fallback: none               # none (fail closed, ERR_UNAVAILABLE) | local (decide in process)
 *     revocation: sync             # local fallback: keep the service's revocation list (sync) | none (the service has none)
 *     revocationForm: exact        # exact (the whole list, pushed deltas) | bloom (the ~120 KB compact form; hits confirmed with the service)
 *     serviceKey: cfk1.…           # the service's key, pinned: calls go over sessions (docs/spec.md §13)
 *     sessions: true               # default true with serviceKey; false: every call signed
 *     sessionTtl: 3600             # seconds asked for per session
 *     sessionTransport: stream     # stream (one upgraded connection, JSON lines, §13.7.1) | http (POST batches, §13.7)
 *
 * The service checks authenticated calls only: a Guard built from a config
 * with `remote:` needs the run's holder key for every call and hands it to
 * the RemoteVerifier, which signs each call (`attestAll` is on) or, with a
 * pinned `serviceKey`, sends it over a session (one signed handshake, then
 * HMAC-tagged calls and answers; attested tools stay signed).
 */
export const remoteConfigSchema = z.strictObject({
  url: z.string().regex(/^https?:\/\//, { message: 'expected an http:// or https:// URL' }),
  timeout: z.number().int().min(1).max(60_000).optional(),
  connections: z.number().int().min(1).max(1024).optional(),
  batch: z.boolean().optional(),
  fallback: z.enum(['none', 'local']).default('none'),
  revocation: z.enum(['sync', 'none']).optional(),
  revocationForm: z.enum(['exact', 'bloom']).optional(),
  /** The service's public key (cfk1.…), pinned: calls then go over sessions (docs/spec.md §13). */
  serviceKey: z
    .string()
    .regex(/^cfk1\.[A-Za-z0-9_-]{43}$/, { message: 'expected the service public key (cfk1.…)' })
    .optional(),
  /** Sessions when serviceKey is set (default true); false keeps every call signed. */
  sessions: z.boolean().optional(),
  /** Session lifetime asked for, seconds. */
  sessionTtl: z.number().int().min(60).max(86_400).optional(),
  /** How session calls travel: stream (default; HTTP batches when the service refuses it) or http. */
  sessionTransport: z.enum(['stream', 'http']).optional(),
});

export type RemoteConfig = z.infer<typeof remoteConfigSchema>;
