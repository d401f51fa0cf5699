/**
 * Sub-agent delegation: derive a narrowed child token for a fresh holder key
 * and run the sub-agent with ONLY the child's credentials.
 *
 * A child agent invoked inside a tool inherits the parent's run config
 * (`configurable`, `context`) unless told otherwise; runSubAgent() passes
 * both explicitly, with `capframe` replaced by the child's credentials, so
 * the parent's token and key never reach the sub-agent's tools.
 */
import { isTokenSource } from '../remote/token-renewer.ts';
import { generateKey } from '../crypto/keys.ts';
import { MissingTokenError } from '../errors.ts';
import { delegate, type DelegateOptions } from '../holder/delegate.ts';
import { CAPFRAME_KEY, credentialsFrom, type Credentials } from './credentials.ts';

/** What to give the sub-agent: delegate()'s options without the keys (the child gets a fresh holder key). */
export interface DelegationSpec extends Pick<DelegateOptions, 'subject' | 'permissions' | 'grants' | 'constraints' | 'ttl' | 'clock'> {
  /** Further delegations below the child. Default 0 (delegate() defaults to one less than the parent). */
  maxDepth?: number;
}

/**
 * A child token for a fresh holder key. `parent` is the parent's
 * credentials, or a run config holding them (e.g. the config a tool receives).
 */
export function delegateCredentials(parent: Credentials | unknown, spec: DelegationSpec): Credentials & { holderKey: NonNullable<Credentials['holderKey']> } {
  const p = (parent && typeof parent === 'object' && 'token' in parent ? parent : credentialsFrom(parent)) as Credentials | undefined;
  if (!p) throw new MissingTokenError('no parent capframe credentials to delegate from');
  if (!p.holderKey) throw new MissingTokenError("delegating needs the parent's holder key (capframe.holderKey)");
  let parentToken = p.token;
  if (isTokenSource(parentToken)) {
    const t = parentToken.current();
    if (t instanceof Promise) throw new MissingTokenError("the parent's token is being renewed: delegate from the call's context (its token of the moment)");
    parentToken = t;
  }
  const key = generateKey();
  const token = delegate(parentToken, {
    key: p.holderKey,
    to: key.publicKey,
    subject: spec.subject,
    ...(spec.permissions ? { permissions: spec.permissions } : {}),
    ...(spec.grants ? { grants: spec.grants } : {}),
    ...(spec.constraints ? { constraints: spec.constraints } : {}),
    ...(spec.ttl !== undefined ? { ttl: spec.ttl } : {}),
    maxDepth: spec.maxDepth ?? 0,
    ...(spec.clock ? { clock: spec.clock } : {}),
  });
  return Object.freeze({ token, holderKey: key });
}

/**
 * The run config for a sub-agent: `context` and `configurable` set
 * explicitly, each holding only the child's credentials under `capframe`
 * (plus `extra.context` / `extra.configurable` entries other than capframe).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Record<string, unknown> would reject interface types such as RunnableConfig (no index signature)
export function subAgentConfig<C extends Record<string, any>>(
  child: Credentials,
  extra?: C,
): C & { context: Record<string, unknown>; configurable: Record<string, unknown> } {
  const e = (extra ?? {}) as Record<string, unknown> & { context?: Record<string, unknown>; configurable?: Record<string, unknown> };
  return {
    ...e,
    context: { ...e.context, [CAPFRAME_KEY]: child },
    configurable: { ...e.configurable, [CAPFRAME_KEY]: child },
  } as never;
}

interface Invocable<I, O> {
  invoke(input: I, config?: unknown): Promise<O>;
}

/**
 * Delegates from the parent's credentials (found in `parentConfig`, e.g. the
 * tool's run config) and runs `agent` with only the child's credentials.
 */
export async function runSubAgent<I, O>(
  agent: Invocable<I, O>,
  input: I,
  options: DelegationSpec & {
    /** The parent's credentials, or the run config that holds them. */
    parent: Credentials | unknown;
    /** Other settings for the sub-agent's run (its own context entries, recursionLimit, ...). */
    config?: Record<string, unknown>;
  },
): Promise<O> {
  const { parent, config, ...spec } = options;
  const child = delegateCredentials(parent, spec);
  return agent.invoke(input, subAgentConfig(child, config));
}
