/**
 * Strict IP address text and CIDR blocks for the `cidr` and `urlSafe`
 * constraints (docs/spec.md §6.2). IPv4: four decimal octets 0-255 without
 * leading zeros. IPv6: RFC 4291 §2.2 text (hex groups, one `::`, an optional
 * trailing dotted IPv4), lowercase or uppercase, no zone id.
 */

export interface Ip {
  readonly v: 4 | 6;
  readonly bytes: Uint8Array;
}

const OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

export function parseIPv4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!OCTET.test(parts[i]!)) return undefined;
    const n = parseInt(parts[i]!, 10);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

const GROUP = /^[0-9A-Fa-f]{1,4}$/;

export function parseIPv6(s: string): Uint8Array | undefined {
  if (s.length > 45 || s.length < 2) return undefined;
  let tail: Uint8Array | undefined;
  let text = s;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) >= 0) {
    tail = parseIPv4(s.slice(lastColon + 1));
    if (!tail) return undefined;
    text = s.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = text.indexOf('::');
  if (dbl >= 0 && text.indexOf('::', dbl + 1) >= 0) return undefined;
  const split = (t: string) => (t === '' ? [] : t.split(':'));
  const head = dbl >= 0 ? split(text.slice(0, dbl)) : split(text);
  const rest = dbl >= 0 ? split(text.slice(dbl + 2)) : [];
  const groups = [...head, ...rest];
  if (!groups.every((g) => GROUP.test(g))) return undefined;
  if (dbl < 0 ? groups.length !== 8 : groups.length > 7) return undefined;
  const all = dbl >= 0 ? [...head, ...Array(8 - groups.length).fill('0'), ...rest] : groups;
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  if (tail) out.set(tail, 12);
  return out;
}

export function parseIp(s: string): Ip | undefined {
  if (typeof s !== 'string') return undefined;
  const v4 = parseIPv4(s);
  if (v4) return { v: 4, bytes: v4 };
  const v6 = s.includes(':') ? parseIPv6(s) : undefined;
  return v6 ? { v: 6, bytes: v6 } : undefined;
}

export interface Cidr {
  readonly v: 4 | 6;
  readonly bytes: Uint8Array;
  readonly bits: number;
  readonly text: string;
}

/** Parses `address/bits` in canonical form: host bits zero; undefined otherwise. */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const bitsText = s.slice(slash + 1);
  if (!ip || !/^(?:0|[1-9][0-9]{0,2})$/.test(bitsText)) return undefined;
  const bits = parseInt(bitsText, 10);
  if (bits > ip.bytes.length * 8) return undefined;
  for (let i = bits; i < ip.bytes.length * 8; i++) if (ip.bytes[i >> 3]! & (0x80 >> (i & 7))) return undefined;
  return { v: ip.v, bytes: ip.bytes, bits, text: s };
}

/** Are the first `bits` bits of a and b equal? */
function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const m = 0x80 >> (i & 7);
    if ((a[i >> 3]! & m) !== (b[i >> 3]! & m)) return false;
  }
  return true;
}

export function cidrContains(c: Cidr, ip: Ip): boolean {
  return c.v === ip.v && samePrefix(c.bytes, ip.bytes, c.bits);
}

/** Is every address of `child` inside `parent`? */
export function cidrCovers(parent: Cidr, child: Cidr): boolean {
  return parent.v === child.v && child.bits >= parent.bits && samePrefix(parent.bytes, child.bytes, parent.bits);
}

const v4 = (s: string) => parseCidr(s)!;
/** IPv4 blocks no server-side request should reach (RFC 6890 special-purpose and the metadata address). */
const UNSAFE_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
].map(v4);
const UNSAFE_V6 = ['::/128', '::1/128', '100::/64', '2001:db8::/32', 'fc00::/7', 'fe80::/10', 'fec0::/10', 'ff00::/8'].map(v4);
/**
 * IPv6 blocks that embed an IPv4 address: IPv4-mapped, IPv4-compatible, NAT64, SIIT IPv4-translated
 * (`::ffff:0:a.b.c.d`) and Teredo (2001::/32, server and client address inside).
 */
const EMBEDS_V4 = ['::ffff:0:0/96', '::/96', '64:ff9b::/96', '64:ff9b:1::/48', '::ffff:0:0:0/96', '2001::/32'].map(v4);

/** True when the address is loopback, private, link-local, unspecified, multicast, reserved or embeds such an IPv4 address. */
export function isUnsafeIp(ip: Ip): boolean {
  if (ip.v === 4) return UNSAFE_V4.some((c) => cidrContains(c, ip));
  if (EMBEDS_V4.some((c) => cidrContains(c, ip))) return true; // IPv4 inside IPv6: refused whatever it embeds (conservative)
  if (ip.bytes[0] === 0x20 && ip.bytes[1] === 0x02) return true; // 6to4 (2002::/16) embeds an IPv4 address too
  return UNSAFE_V6.some((c) => cidrContains(c, ip));
}
