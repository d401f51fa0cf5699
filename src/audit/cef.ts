/**
 * A decision as an ArcSight CEF line, framed as an RFC 5424 syslog message.
 * Every value is escaped by the rules of its place: in the CEF header `\` and
 * `|`; in extension values `\`, `=` and line breaks; syslog header fields are
 * limited to printable US-ASCII without spaces. Hostile subjects, tools or
 * resources therefore cannot forge fields, headers or extra lines.
 */
import { hostname } from 'node:os';
import { eventFields, type AuditEvent, type EventFields } from './record.ts';

// Most values need no escaping: one test instead of four replacements.
const HEADER_SPECIAL = /[\\|\r\n]/;
const VALUE_SPECIAL = /[\\=\r\n]/;

/** Escapes a CEF header field. Line breaks cannot appear in a header: they become spaces. */
export function cefHeader(value: string): string {
  if (!HEADER_SPECIAL.test(value)) return value;
  return value
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/[\r\n]+/g, ' ');
}

/** Escapes a CEF extension value. */
export function cefValue(value: string): string {
  if (!VALUE_SPECIAL.test(value)) return value;
  return value
    .replace(/\\/g, '\\\\')
    .replace(/=/g, '\\=')
    .replace(/\r\n|\n/g, '\\n')
    .replace(/\r/g, '\\r');
}

export interface CefOptions {
  readonly productVersion?: string;
}

/** The CEF text (`CEF:0|...`) of one decision at `timeMs`. */
export function toCef(event: AuditEvent, timeMs: number, options: CefOptions = {}): string {
  return cefText(eventFields(event), timeMs, options);
}

/** toCef of the event's fields. */
export function cefText(f: EventFields, timeMs: number, options: CefOptions = {}): string {
  const allowed = f.decision === 'allow';
  // Written as text, member by member; the order and the escaping are the CEF layout's.
  let t =
    'CEF:0|capframe|capframe|' +
    cefHeader(options.productVersion ?? '0') +
    '|' +
    (allowed ? 'ALLOW|tool call allowed|1' : cefHeader(f.code ?? 'ERR_INTERNAL') + '|tool call denied|5') +
    '|rt=' +
    Math.floor(timeMs) +
    (allowed ? ' act=allow outcome=success' : ' act=deny outcome=failure');
  if (!allowed && f.code !== null) t += ' reason=' + cefValue(f.code);
  if (f.subject !== null) t += ' suser=' + cefValue(f.subject);
  if (f.callId !== null) t += ' externalId=' + cefValue(f.callId);
  t += ' cs1Label=tool';
  if (f.tool !== null) t += ' cs1=' + cefValue(f.tool);
  t += ' cs2Label=operation';
  if (f.operation !== null) t += ' cs2=' + cefValue(f.operation);
  t += ' cs3Label=resource';
  if (f.resource !== null) t += ' cs3=' + cefValue(f.resource);
  t += ' cs4Label=argsDigest';
  if (f.argsDigest !== null) t += ' cs4=' + cefValue(f.argsDigest);
  t += ' cs5Label=chain';
  if (f.chain.length > 0) t += ' cs5=' + cefValue(f.chain.join(','));
  t += ' cs6Label=mode';
  if (f.mode !== null) t += ' cs6=' + cefValue(f.mode);
  return t;
}

/** RFC 5424 header field: printable US-ASCII without space, at most `max` characters, `-` when empty. */
function field(value: string, max: number): string {
  const v = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return v === '' ? '-' : v;
}

export interface SyslogHeader {
  /** Facility number, 0-23. Default 13 (log audit). */
  readonly facility?: number;
  readonly hostname?: string;
  /** Default `capframe`. */
  readonly appName?: string;
}

const HOST = hostname();

/** One RFC 5424 message: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG`. Denials are warnings (4), allows informational (6). */
export function syslogMessage(msg: string, timeMs: number, deny: boolean, h: SyslogHeader = {}): string {
  return syslogFramer(h)(msg, timeMs, deny);
}

/** syslogMessage with the constant parts of one header built once (for a sink that frames every decision). */
export function syslogFramer(h: SyslogHeader = {}): (msg: string, timeMs: number, deny: boolean) => string {
  const facility = h.facility ?? 13;
  const warn = `<${facility * 8 + 4}>1 `;
  const info = `<${facility * 8 + 6}>1 `;
  const rest = ` ${field(h.hostname ?? HOST, 255)} ${field(h.appName ?? 'capframe', 48)} ${process.pid} decision - `;
  return (msg, timeMs, deny) => (deny ? warn : info) + new Date(timeMs).toISOString() + rest + (LINE_BREAK.test(msg) ? msg.replace(/[\r\n]/g, ' ') : msg);
}
const LINE_BREAK = /[\r\n]/;
