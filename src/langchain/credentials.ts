/**
 * Where a run's capframe data lives: credentials in, call context out.
 *
 * Credentials come from the run config, never from the model's arguments:
 *
 *   agent.invoke(input, { configurable: { capframe: { token, holderKey } } })
 *   // or { context: { capframe: { token, holderKey } } }
 *
 * (`configurable.capframe` is looked at first, then `context.capframe`.)
 * `token` is a Token, its `cft1.` text or its bytes, or a TokenSource (a
 * TokenRenewer from capframe/remote, asked for its current token on every
 * call); `holderKey` (the token
 * holder's PrivateKey) is needed only for attested tools, for a remote
 * verifier and for delegation.
 *
 * An allowed call runs the inner tool with `configurable.capframe` extended
 * by `decision` (the verifier's Allowed decision) and, for attested tools,
 * `invocation` (the signed Invocation proof, `String(invocation)` is its
 * `cfi1.` text) so that a tool calling a remote service can forward it.
 */
import type { PrivateKey } from '../crypto/keys.ts';
import type { Invocation } from '../token/invocation.ts';
import type { Allowed, TokenInput } from '../verify/verifier.ts';
import type { TokenSource } from '../remote/token-renewer.ts';

/** The key under `configurable` / `context` that holds capframe's data. */
export const CAPFRAME_KEY = 'capframe';

/** What an agent run carries in `configurable.capframe` or `context.capframe`. */
export interface Credentials {
  readonly token: TokenInput | TokenSource;
  /** The token holder's private key: needed for attested tools, a remote verifier and to delegate to sub-agents. */
  readonly holderKey?: PrivateKey;
}

/** What the inner tool of an allowed call finds in `config.configurable.capframe`. */
export interface CallContext extends Credentials {
  /** The token the call was checked with (a TokenSource's token of the moment). */
  readonly token: TokenInput;
  readonly decision: Allowed;
  /** The signed proof of this call (attested tools only). */
  readonly invocation?: Invocation;
}

type AnyConfig = { configurable?: Record<string, unknown>; context?: unknown } | undefined | null;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The credentials of a run: `configurable.capframe`, else `context.capframe`. */
export function credentialsFrom(config: unknown): Credentials | undefined {
  const c = config as AnyConfig;
  const fromConfigurable = c?.configurable?.[CAPFRAME_KEY];
  const candidate = fromConfigurable ?? (isPlainObject(c?.context) ? (c!.context as Record<string, unknown>)[CAPFRAME_KEY] : undefined);
  if (!isPlainObject(candidate) || candidate.token === undefined || candidate.token === null) return undefined;
  return candidate as unknown as Credentials;
}

/** The run config with `token` in place of a TokenSource's (configurable.capframe wins over context.capframe). */
export function withToken(config: unknown, creds: Credentials, token: TokenInput): unknown {
  const c = (config ?? {}) as Record<string, unknown> & { configurable?: Record<string, unknown> };
  return { ...c, configurable: { ...c.configurable, [CAPFRAME_KEY]: { ...creds, token } } };
}

/** The config an allowed call's inner tool runs with. */
export function withContext<C>(config: C, ctx: CallContext): C {
  const c = (config ?? {}) as Record<string, unknown> & { configurable?: Record<string, unknown> };
  return { ...c, configurable: { ...c.configurable, [CAPFRAME_KEY]: ctx } } as C;
}

/** The proof and decision of the current call, from inside a tool: `callContext(config)?.invocation`. */
export function callContext(config: unknown): CallContext | undefined {
  const v = (config as AnyConfig)?.configurable?.[CAPFRAME_KEY];
  return isPlainObject(v) && 'decision' in v ? (v as unknown as CallContext) : undefined;
}
