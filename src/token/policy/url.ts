/**
 * The `url` and `urlSafe` constraints (docs/spec.md §6.2). A value is parsed
 * and normalised by the WHATWG URL Standard (node's `URL`): scheme and host
 * lowercased, IDNA to punycode, IPv4 in decimal/hex/octal/short forms
 * rewritten to dotted decimal, IPv6 compressed, default ports dropped, dot
 * segments (`..`, `%2e%2e`) resolved. Every rule looks at that normal form.
 */
import { isUnsafeIp, parseIp } from './ip.ts';

export interface UrlRule {
  /** Lowercase scheme without ":", e.g. "https". */
  readonly scheme?: string;
  /** Exact host (normal form), or "*." + domain: any host strictly below the domain. */
  readonly host?: string;
  /** Port the URL must use (its default port when it names none). */
  readonly port?: number;
  /** The normalised path must equal this or lie below it ("/api" admits "/api" and "/api/x", not "/apix"). */
  readonly path?: string;
}

const DEFAULT_PORT: Record<string, number> = { 'http:': 80, 'https:': 443, 'ws:': 80, 'wss:': 443, 'ftp:': 21 };
/** Longest URL value examined; longer values fail. */
export const MAX_URL_INPUT = 4096;

export interface ParsedUrl {
  readonly scheme: string;
  readonly host: string;
  readonly port: number | undefined;
  readonly path: string;
  readonly hasCredentials: boolean;
}

/**
 * Recently parsed URL values: parsing is deterministic and strings are
 * immutable, so a hit is exactly what parsing again would give (new URL()
 * costs microseconds; a tool is often called with the same URL).
 */
const parsed = new Map<string, ParsedUrl | null>();
const PARSED_MAX = 256;

export function parseUrl(v: unknown): ParsedUrl | undefined {
  if (typeof v !== 'string' || v.length > MAX_URL_INPUT) return undefined;
  const hit = parsed.get(v);
  if (hit !== undefined) return hit ?? undefined;
  let out: ParsedUrl | null;
  try {
    const u = new URL(v);
    const port = u.port !== '' ? Number(u.port) : DEFAULT_PORT[u.protocol];
    out = Object.freeze({ scheme: u.protocol.slice(0, -1), host: u.hostname, port, path: u.pathname, hasCredentials: u.username !== '' || u.password !== '' });
  } catch {
    out = null;
  }
  if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value!);
  parsed.set(v, out);
  return out ?? undefined;
}

const HOST_LABELS = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** A host pattern: a lowercase DNS name (punycode) or "*." + one, or an IP literal as the URL parser writes it. */
export function isHostPattern(h: string): boolean {
  const name = h.startsWith('*.') ? h.slice(2) : h;
  if (HOST_LABELS.test(name) && name.includes('.')) return true;
  if (h.startsWith('*.')) return false;
  return parseIp(h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h) !== undefined && (h.startsWith('[') || !h.includes(':'));
}

export function hostMatches(pattern: string, host: string): boolean {
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return host === pattern;
}

/** Is `path` equal to `base` or below it (segment-wise)? */
export function pathUnderUrl(base: string, path: string): boolean {
  if (base === '/') return path.startsWith('/');
  return path === base || path.startsWith(base.endsWith('/') ? base : base + '/');
}

/**
 * A path that a server may split differently from the WHATWG parser: an encoded `/` or `\`
 * (`/v1/..%2fadmin`, which a proxy that decodes before resolving dot segments reads as
 * `/admin`), or a dot segment behind a `;` parameter (`/v1/..;/admin`, read as `..` by
 * servlet containers). A path rule refuses these rather than guess the server's reading.
 */
function ambiguousPath(path: string): boolean {
  if (/%(?:2f|5c)/i.test(path) || path.includes('\\')) return true;
  for (const seg of path.split('/')) {
    const bare = seg.replace(/;.*$/s, '');
    if (bare !== seg && /^(?:\.|%2e){1,2}$/i.test(bare)) return true;
  }
  return false;
}

export function urlAdmits(r: UrlRule, v: unknown): boolean {
  const u = parseUrl(v);
  if (!u || u.hasCredentials) return false;
  if (r.scheme !== undefined && u.scheme !== r.scheme) return false;
  if (r.host !== undefined && !hostMatches(r.host, u.host)) return false;
  if (r.port !== undefined && u.port !== r.port) return false;
  if (r.path !== undefined && (!pathUnderUrl(r.path, u.path) || ambiguousPath(u.path))) return false;
  return true;
}

/** Is every URL `child` admits also admitted by `parent`? */
export function urlCovers(parent: UrlRule, child: UrlRule): boolean {
  if (parent.scheme !== undefined && child.scheme !== parent.scheme) return false;
  if (parent.port !== undefined && child.port !== parent.port) return false;
  if (parent.path !== undefined && (child.path === undefined || !pathUnderUrl(parent.path, child.path))) return false;
  if (parent.host !== undefined) {
    if (child.host === undefined) return false;
    if (!parent.host.startsWith('*.')) {
      if (child.host !== parent.host) return false;
    } else if (child.host.startsWith('*.')) {
      if (!(child.host === parent.host || child.host.endsWith(parent.host.slice(1)))) return false;
    } else if (!hostMatches(parent.host, child.host)) return false;
  }
  return true;
}

/** Host names that name the local machine or a private namespace, whatever DNS says. */
const UNSAFE_NAME_SUFFIXES = ['.localhost', '.localdomain', '.local', '.internal', '.home.arpa', '.lan', '.intranet', '.corp', '.private'];
const UNSAFE_NAMES = new Set(['localhost', 'metadata', 'metadata.google.internal', 'instance-data', 'kubernetes', 'kubernetes.default']);

/**
 * urlSafe: an http or https URL without credentials whose host is a public
 * IP address, or a DNS name of at least two labels outside the local and
 * private namespaces above. What a name resolves to is not checked (DNS can
 * change between the check and the request): see the pitfalls in docs/policy.md.
 */
export function urlSafeAdmits(v: unknown): boolean {
  const u = parseUrl(v);
  if (!u || u.hasCredentials || (u.scheme !== 'http' && u.scheme !== 'https')) return false;
  const h = u.host;
  if (h === '') return false;
  if (h.startsWith('[')) {
    const ip = parseIp(h.slice(1, -1));
    return ip !== undefined && !isUnsafeIp(ip);
  }
  const ip4 = parseIp(h);
  if (ip4) return !isUnsafeIp(ip4);
  if (/^[0-9.]+$/.test(h) || /^0x/i.test(h)) return false; // numeric forms the parser did not turn into an address
  // A trailing dot (`localhost.`, `metadata.google.internal.`) names the same host as the name without it,
  // and an empty label is no DNS name: refused rather than matched against the lists below.
  if (h.endsWith('.') || h.startsWith('.') || h.includes('..')) return false;
  if (!h.includes('.') || UNSAFE_NAMES.has(h) || UNSAFE_NAME_SUFFIXES.some((s) => h.endsWith(s) || h === s.slice(1))) return false;
  return true;
}
