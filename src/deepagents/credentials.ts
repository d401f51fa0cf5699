/**
 * The run's capframe credentials, read and replaced in a run config.
 *
 * Same convention as capframe/langchain (`configurable.capframe`, then
 * `context.capframe`), re-implemented here in a few lines because folders of
 * the same layer do not import each other.
 */
import type { PrivateKey } from '../crypto/keys.ts';
import type { TokenInput } from '../verify/verifier.ts';

export const CAPFRAME_KEY = 'capframe';

export interface Credentials {
  readonly token: TokenInput;
  /** The token holder's private key: needed to delegate to sub-agents. */
  readonly holderKey?: PrivateKey;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The credentials of a run: `configurable.capframe`, else `context.capframe`. */
export function credentialsFrom(config: unknown): Credentials | undefined {
  const c = isObject(config) ? config : undefined;
  const configurable = isObject(c?.configurable) ? c.configurable : undefined;
  const context = isObject(c?.context) ? c.context : undefined;
  const candidate = configurable?.[CAPFRAME_KEY] ?? context?.[CAPFRAME_KEY];
  if (!isObject(candidate) || candidate.token === undefined || candidate.token === null) return undefined;
  return candidate as unknown as Credentials;
}

/**
 * The run config of a sub-agent: the parent's, with `capframe` replaced by
 * the child's credentials in `configurable` and in `context`, both set
 * explicitly. A nested run merges the ambient (parent's) config under the one
 * it is given, so a key left out would be inherited from the parent.
 */
export function childRunConfig<C>(config: C, child: Credentials): C {
  const c = (isObject(config) ? config : {}) as Record<string, unknown>;
  const configurable = isObject(c.configurable) ? c.configurable : {};
  const context = isObject(c.context) ? c.context : {};
  return {
    ...c,
    configurable: { ...configurable, [CAPFRAME_KEY]: child },
    context: { ...context, [CAPFRAME_KEY]: child },
  } as C;
}
