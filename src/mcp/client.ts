/**
 * The caller's side: sign each `tools/call` with the holder key and attach
 * the token and proof under `_meta["dev.capframe/v1"]` (docs/spec.md §4.6).
 *
 *   const mcp = withCapframe(client, { token, holderKey });
 *   await mcp.callTool({ name: 'read_ticket', arguments: { id: 'T-1' } });
 *
 * `withCapframe` returns the same client behind a proxy, so it can be handed
 * to anything that takes an SDK Client, e.g. `loadMcpTools` of
 * `@langchain/mcp-adapters`: the adapters build the LangChain tools and call
 * `callTool`, the proxy signs beneath them. The token and key stay in the
 * proxy: they never enter the model's view or the tool arguments (except with
 * `carrier: 'argument'`, where the credential rides in a reserved argument
 * that the server removes before anything reads the arguments).
 *
 * Which resource and operation to sign comes from a local policy (config or
 * `policies`) or, for tools without one, from the policy the server
 * advertises in `tools/list` (`serverPolicies`, on by default). A proof
 * never allows more than the token grants, and it is good for one call.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError, type CallToolRequest, type ListToolsRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Ed25519Backend } from '../crypto/backend.ts';
import type { PrivateKey } from '../crypto/keys.ts';
import { CapframeError, InvalidArgumentError, NoSchemaError, type ErrorCode } from '../errors.ts';
import { errorFromCode } from '../error-codes.ts';
import { createInvocation } from '../holder/invoke.ts';
import { Token } from '../token/token.ts';
import type { Clock } from '../clock.ts';
import { definePolicy, type ToolPolicy, type ToolPolicySpec } from '../config/tools.ts';
import type { CapframeConfig } from '../config/parse.ts';
import { META_KEY, type AdvertisedPolicy, type WireDenial } from './wire.ts';
import { isTokenSource, type TokenSource } from '../remote/token-renewer.ts';

export interface CapframeClientOptions {
  /** The caller's token (a Token, its `cft1.` text or bytes), or a TokenSource (a TokenRenewer: its current token on every call). */
  token: Token | string | Uint8Array | TokenSource;
  /** The token's holder key: signs every call. */
  holderKey: PrivateKey;
  /** Tool policies (the `tools:` section); they take precedence over what the server advertises. */
  config?: CapframeConfig;
  policies?: Readonly<Record<string, ToolPolicy | ToolPolicySpec>>;
  /** Use the resource template and operation the server advertises in `tools/list` for tools without a local policy. Default true. */
  serverPolicies?: boolean;
  /** Where the credential goes: `_meta` (default) or the reserved argument, for gateways that drop `_meta` (the server must opt in). */
  carrier?: 'meta' | 'argument';
  /** Send the token with `tools/list` so that a server hiding unusable tools can decide. Default true. */
  tokenOnList?: boolean;
  clock?: Clock;
  backend?: Ed25519Backend;
}

type CallParams = CallToolRequest['params'];

/** Signs one call and attaches the credential to its params. Throws a CapframeError (e.g. ERR_SCOPE_RESOURCE from the template). */
export function signCallParams(
  params: CallParams,
  policy: ToolPolicy,
  o: Pick<CapframeClientOptions, 'holderKey' | 'carrier' | 'clock' | 'backend'> & { token: Token | string | Uint8Array },
): CallParams {
  if (!params || typeof params.name !== 'string') throw new InvalidArgumentError('callTool needs { name, arguments }');
  const args = params.arguments ?? {};
  if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new InvalidArgumentError('tool arguments must be an object');
  if (Object.prototype.hasOwnProperty.call(args, META_KEY)) throw new InvalidArgumentError(`argument "${META_KEY}" is reserved for capframe credentials`);
  const token = Token.parse(o.token);
  const proof = createInvocation(token, {
    key: o.holderKey,
    tool: params.name,
    operation: policy.operation,
    resource: policy.resource.render(args),
    args,
    ...(policy.proofWindow !== undefined ? { ttl: policy.proofWindow } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.backend ? { backend: o.backend } : {}),
  });
  const credential = { token: String(token), proof: String(proof) };
  if (o.carrier === 'argument') return { ...params, arguments: { ...args, [META_KEY]: credential } };
  return { ...params, arguments: args, _meta: { ...params._meta, [META_KEY]: credential } };
}

/** The capframe denial in an error thrown by `callTool` (JSON-RPC error) or in a tool result, or undefined. */
export function denialOf(x: unknown): { code: ErrorCode; reason: string; error: CapframeError } | undefined {
  let holder: unknown;
  if (x instanceof McpError) holder = x.data;
  else if (typeof x === 'object' && x !== null) holder = (x as { _meta?: unknown })._meta;
  const d = (holder as Record<string, unknown> | undefined)?.[META_KEY] as Partial<WireDenial> | undefined;
  if (!d || d.decision !== 'deny' || typeof d.code !== 'string' || !/^ERR_[A-Z_]{1,40}$/.test(d.code)) return undefined;
  const code = d.code as ErrorCode;
  const reason = typeof d.reason === 'string' ? d.reason : '';
  return { code, reason, error: errorFromCode(code, reason) };
}

/** The policy a server advertises for a tool, compiled; undefined when absent or unusable. */
function advertisedPolicy(name: string, meta: unknown): ToolPolicy | undefined {
  const a = (meta as Record<string, unknown> | undefined)?.[META_KEY] as Partial<AdvertisedPolicy> | undefined;
  if (!a || typeof a.resource !== 'string' || typeof a.operation !== 'string') return undefined;
  try {
    return definePolicy(name, { resource: a.resource, operation: a.operation, ...(typeof a.proofWindow === 'number' ? { proofWindow: a.proofWindow } : {}) });
  } catch {
    return undefined;
  }
}

/**
 * The SDK client behind a proxy whose `callTool` signs every call and whose
 * `listTools` sends the token and learns the advertised policies. Everything
 * else is the client itself.
 */
export function withCapframe<C extends Client>(client: C, options: CapframeClientOptions): C {
  if (!options || !options.holderKey || options.holderKey.kind !== 'private') throw new InvalidArgumentError('withCapframe needs the holder private key');
  const source = isTokenSource(options.token) ? options.token : undefined;
  const fixed = source ? undefined : Token.parse(options.token as Token | string | Uint8Array);
  /** The token of the moment: a source's current one (renewed before it expires), else the fixed one. */
  const tokenNow = async (): Promise<Token> => fixed ?? (await source!.current());
  const local = new Map<string, ToolPolicy>(Object.entries(options.config?.tools ?? {}));
  for (const [name, p] of Object.entries(options.policies ?? {})) {
    local.set(name, typeof p.resource === 'object' ? (p as ToolPolicy) : definePolicy(name, p as ToolPolicySpec));
  }
  const useServer = options.serverPolicies !== false;
  const advertised = new Map<string, ToolPolicy>();

  const listTools = async (params?: ListToolsRequest['params'], requestOptions?: Parameters<C['listTools']>[1]) => {
    const p = options.tokenOnList === false ? params : { ...params, _meta: { ...params?._meta, [META_KEY]: { token: String(await tokenNow()) } } };
    const result = await client.listTools(p, requestOptions);
    if (useServer) {
      for (const t of result.tools) {
        const policy = advertisedPolicy(t.name, t._meta);
        if (policy) advertised.set(t.name, policy);
        else advertised.delete(t.name);
      }
    }
    return result;
  };

  const policyFor = async (name: string): Promise<ToolPolicy> => {
    const p = local.get(name) ?? (useServer ? advertised.get(name) : undefined);
    if (p) return p;
    if (useServer) {
      let cursor: string | undefined;
      do {
        const page = await listTools(cursor ? { cursor } : undefined);
        cursor = page.nextCursor;
      } while (cursor && !advertised.has(name));
      const q = advertised.get(name);
      if (q) return q;
    }
    throw new NoSchemaError(`no capframe policy for MCP tool "${name}" (none in the config, none advertised by the server)`);
  };

  const callTool = async (params: CallParams, resultSchema?: Parameters<C['callTool']>[1], requestOptions?: Parameters<C['callTool']>[2]) => {
    const policy = await policyFor(params?.name);
    return client.callTool(signCallParams(params, policy, { ...options, token: await tokenNow() }), resultSchema, requestOptions);
  };

  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'callTool') return callTool;
      if (prop === 'listTools') return listTools;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
