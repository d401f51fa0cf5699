/**
 * Signer URIs: where an authority's signing key lives, said in one string (CLI --signer,
 * the authority config's `signer:`). Secrets are never part of one: a PIN comes from an
 * environment variable or a file, cloud credentials from the client's usual chain.
 *
 *   file:PATH                  a capframe key file (capframe keygen); relative to the cwd
 *   pkcs11:token=T;object=L?module-path=M&pin-source=env:VAR
 *                              RFC 7512: token label T (or slot-id=N), key pair label L,
 *                              module M (default $CAPFRAME_PKCS11_MODULE), PIN from env:VAR
 *                              or file:PATH (default env:CAPFRAME_PKCS11_PIN); pin-value is refused
 *   awskms:KEY[?region=R&endpoint=URL]
 *                              KEY: key id, key ARN, alias/NAME or alias ARN
 *   gcpkms:projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V[?endpoint=URL]
 *                              an https endpoint is used over gRPC, an http one over REST
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../../errors.ts';
import { parsePrivateKey } from '../keys.ts';
import { keySigner, type Signer } from '../signer.ts';
import { awsKmsSigner } from './aws-kms.ts';
import { gcpKmsSigner } from './gcp-kms.ts';
import { pkcs11Signer } from './pkcs11.ts';

export interface SignerContext {
  /** Base of relative paths (default process.cwd()). */
  cwd?: string;
  /** Where `env:` PINs and defaults are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** More options for a new KMSClient (credentials, retries…), merged under what the URI says. */
  aws?: Record<string, unknown>;
  /** More options for a new KeyManagementServiceClient (credentials, keyFilename, authClient…). */
  gcp?: Record<string, unknown>;
}

/** A Signer from a URI; `close` releases what it holds (an HSM session), when anything. */
export type OpenedSigner = Signer & { close?(): void };

/** What a signer URI says, checked, with no secret read yet. */
export type SignerSpec =
  | { kind: 'file'; path: string }
  | { kind: 'pkcs11'; module: string | undefined; token?: string; slot?: number; label: string; pinSource: string }
  | { kind: 'awskms'; keyId: string; region?: string; endpoint?: string }
  | { kind: 'gcpkms'; name: string; endpoint?: string };

const PKCS11_PATH = new Set(['token', 'object', 'slot-id', 'type']);
const PKCS11_QUERY = new Set(['module-path', 'pin-source']);

function bad(uri: string, why: string): never {
  // The URI holds no secret (a PIN in it is refused before this is reached with it).
  throw new ConfigError(`signer ${JSON.stringify(redact(uri))}: ${why}`);
}

/** Drops PIN attributes from a URI before it is shown (a PIN typed where a source belongs too). */
function redact(uri: string): string {
  return uri.replace(/(pin-value|pin-source)=[^&;]*/gi, '$1=…');
}

function pct(uri: string, v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    bad(uri, 'bad percent-encoding');
  }
}

function query(uri: string, q: string | undefined, allowed: Set<string>): Map<string, string> {
  const out = new Map<string, string>();
  if (q === undefined || q === '') return out;
  for (const part of q.split('&')) {
    const i = part.indexOf('=');
    const k = i < 0 ? part : part.slice(0, i);
    if (k === 'pin-value') bad(uri, 'a PIN is never part of a signer URI: use pin-source=env:VAR or pin-source=file:PATH');
    if (!allowed.has(k)) bad(uri, `unknown attribute ${JSON.stringify(k)}`);
    if (out.has(k)) bad(uri, `attribute ${k} is given twice`);
    out.set(k, pct(uri, i < 0 ? '' : part.slice(i + 1)));
  }
  return out;
}

function endpoint(uri: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    bad(uri, 'endpoint is not a URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') bad(uri, 'endpoint is an http(s) URL');
  return v;
}

/** Parses and checks a signer URI (ERR_CONFIG); reads nothing and connects nowhere. */
export function parseSignerUri(uri: string, ctx: SignerContext = {}): SignerSpec {
  if (typeof uri !== 'string' || uri.trim() === '') throw new ConfigError('a signer URI is a non-empty string');
  const colon = uri.indexOf(':');
  const scheme = colon < 0 ? '' : uri.slice(0, colon);
  const rest = uri.slice(colon + 1);
  const env = ctx.env ?? process.env;
  switch (scheme) {
    case 'file': {
      const path = pct(uri, rest.startsWith('//') ? rest.slice(2) : rest);
      if (path === '') bad(uri, 'file: needs a path');
      return { kind: 'file', path };
    }
    case 'pkcs11': {
      const q = rest.indexOf('?');
      const path = q < 0 ? rest : rest.slice(0, q);
      const attrs = new Map<string, string>();
      for (const part of path.split(';')) {
        if (part === '') continue;
        const i = part.indexOf('=');
        const k = i < 0 ? part : part.slice(0, i);
        if (k === 'pin-value') bad(uri, 'a PIN is never part of a signer URI: use pin-source=env:VAR or pin-source=file:PATH');
        if (!PKCS11_PATH.has(k)) bad(uri, `unknown attribute ${JSON.stringify(k)} (token, object, slot-id; module-path and pin-source after '?')`);
        if (attrs.has(k)) bad(uri, `attribute ${k} is given twice`);
        attrs.set(k, pct(uri, i < 0 ? '' : part.slice(i + 1)));
      }
      const qs = query(uri, q < 0 ? undefined : rest.slice(q + 1), PKCS11_QUERY);
      const label = attrs.get('object');
      if (!label) bad(uri, 'object=LABEL (the key pair label) is required');
      if (attrs.has('type') && !['private', 'public'].includes(attrs.get('type')!)) bad(uri, 'type is private or public');
      const token = attrs.get('token');
      const slotText = attrs.get('slot-id');
      if ((token === undefined) === (slotText === undefined)) bad(uri, 'give token=LABEL or slot-id=N (one of them)');
      if (slotText !== undefined && !/^\d{1,9}$/.test(slotText)) bad(uri, 'slot-id is a number');
      const pinSource = qs.get('pin-source') ?? 'env:CAPFRAME_PKCS11_PIN';
      if (!/^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$/.test(pinSource)) bad(uri, 'pin-source is env:VARIABLE or file:PATH');
      return {
        kind: 'pkcs11',
        module: qs.get('module-path') ?? env.CAPFRAME_PKCS11_MODULE,
        ...(token !== undefined ? { token } : {}),
        ...(slotText !== undefined ? { slot: Number(slotText) } : {}),
        label,
        pinSource,
      };
    }
    case 'awskms': {
      const q = rest.indexOf('?');
      const keyId = pct(uri, q < 0 ? rest : rest.slice(0, q));
      if (!/^[A-Za-z0-9:/_\-.]{1,2048}$/.test(keyId)) bad(uri, 'awskms:KEY names a key id, key ARN or alias');
      const qs = query(uri, q < 0 ? undefined : rest.slice(q + 1), new Set(['region', 'endpoint']));
      const ep = endpoint(uri, qs.get('endpoint'));
      return { kind: 'awskms', keyId, ...(qs.has('region') ? { region: qs.get('region')! } : {}), ...(ep ? { endpoint: ep } : {}) };
    }
    case 'gcpkms': {
      const q = rest.indexOf('?');
      const name = pct(uri, q < 0 ? rest : rest.slice(0, q));
      if (!/^projects\/[^/?]+\/locations\/[^/?]+\/keyRings\/[^/?]+\/cryptoKeys\/[^/?]+\/cryptoKeyVersions\/[^/?]+$/.test(name)) {
        bad(uri, 'gcpkms: names projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V');
      }
      const qs = query(uri, q < 0 ? undefined : rest.slice(q + 1), new Set(['endpoint']));
      const ep = endpoint(uri, qs.get('endpoint'));
      return { kind: 'gcpkms', name, ...(ep ? { endpoint: ep } : {}) };
    }
    default:
      bad(uri, 'a signer URI starts with file:, pkcs11:, awskms: or gcpkms:');
  }
}

function readPin(source: string, ctx: SignerContext): string {
  const env = ctx.env ?? process.env;
  if (source.startsWith('env:')) {
    const v = env[source.slice(4)];
    if (v === undefined || v === '') throw new ConfigError(`pkcs11: the PIN variable ${source.slice(4)} is not set`);
    return v;
  }
  const path = resolve(ctx.cwd ?? process.cwd(), source.slice(5));
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw new ConfigError(`pkcs11: cannot read the PIN file ${JSON.stringify(source.slice(5))}: ${(e as { code?: string }).code ?? 'error'}`);
  }
}

/** The Signer a URI names, ready to sign (its public key read from the token or KMS). */
export async function signerFromUri(uri: string, ctx: SignerContext = {}): Promise<OpenedSigner> {
  const spec = parseSignerUri(uri, ctx);
  switch (spec.kind) {
    case 'file': {
      const path = resolve(ctx.cwd ?? process.cwd(), spec.path);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (e) {
        throw new ConfigError(`signer key file ${JSON.stringify(spec.path)}: cannot read (${(e as { code?: string }).code ?? 'error'})`);
      }
      return keySigner(parsePrivateKey(text));
    }
    case 'pkcs11': {
      if (!spec.module) throw new ConfigError('pkcs11: module-path=PATH is required (or set CAPFRAME_PKCS11_MODULE)');
      return pkcs11Signer({
        module: spec.module,
        ...(spec.token !== undefined ? { token: spec.token } : {}),
        ...(spec.slot !== undefined ? { slot: spec.slot } : {}),
        label: spec.label,
        pin: readPin(spec.pinSource, ctx),
      });
    }
    case 'awskms': {
      return awsKmsSigner({
        keyId: spec.keyId,
        ...(spec.region !== undefined ? { region: spec.region } : {}),
        ...(spec.endpoint !== undefined ? { endpoint: spec.endpoint } : {}),
        ...(ctx.aws ? { clientOptions: ctx.aws } : {}),
      });
    }
    case 'gcpkms': {
      let clientOptions: Record<string, unknown> = {};
      if (spec.endpoint !== undefined) {
        const u = new URL(spec.endpoint);
        const port = u.port !== '' ? Number(u.port) : u.protocol === 'http:' ? 80 : 443;
        // gRPC needs TLS; an http endpoint (a local stand-in, a plain-HTTP proxy) is spoken to over REST.
        clientOptions = u.protocol === 'http:' ? { apiEndpoint: u.hostname, port, fallback: true, protocol: 'http' } : { apiEndpoint: u.hostname, port };
      }
      return gcpKmsSigner({ name: spec.name, clientOptions: { ...ctx.gcp, ...clientOptions } });
    }
  }
}

/** The authority's signer as a config section gives it: `signer: URI`, or `key: PATH` (a key file). */
export interface SignerConfig {
  signer?: string;
  key?: string;
}

/** The Signer of a config section (exactly one of `signer` and `key`); relative paths from ctx.cwd. */
export function signerFromConfig(section: SignerConfig, ctx: SignerContext = {}): Promise<OpenedSigner> {
  const hasSigner = typeof section?.signer === 'string' && section.signer !== '';
  const hasKey = typeof section?.key === 'string' && section.key !== '';
  if (hasSigner === hasKey) return Promise.reject(new ConfigError('the authority needs `signer: URI` or `key: PATH` (one of them)'));
  return hasSigner ? signerFromUri(section.signer!, ctx) : signerFromUri(`file:${encodeURIComponent(section.key!)}`, ctx);
}
