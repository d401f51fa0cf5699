/**
 * A decision as an ArcSight CEF line, framed as an RFC 5424 syslog message.
 * Every value is escaped by the rules of its place: in the CEF header `\` and
 * `|`; in extension values `\`, `=` and line breaks; syslog header fields are
 * limited to printable US-ASCII without spaces. Hostile subjects, tools or
 * resources therefore cannot forge fields, headers or extra lines.
 */
import { hostname } from 'node:os';
import { eventFields, type AuditEvent } from './record.ts';

/** Escapes a CEF header field. Line breaks cannot appear in a header: they become spaces. */
export function cefHeader(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/[\r\n]+/g, ' ');
}

/** Escapes a CEF extension value. */
export function cefValue(value: string): string {
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
  const f = eventFields(event);
  const allowed = f.decision === 'allow';
  const header = [
    'CEF:0',
    'capframe',
    'capframe',
    cefHeader(options.productVersion ?? '0'),
    cefHeader(allowed ? 'ALLOW' : (f.code ?? 'ERR_INTERNAL')),
    cefHeader(allowed ? 'tool call allowed' : 'tool call denied'),
    allowed ? '1' : '5',
  ].join('|');
  const ext: [string, string | null][] = [
    ['rt', String(Math.floor(timeMs))],
    ['act', allowed ? 'allow' : 'deny'],
    ['outcome', allowed ? 'success' : 'failure'],
    ['reason', allowed ? null : f.code],
    ['suser', f.subject],
    ['externalId', f.callId],
    ['cs1Label', 'tool'],
    ['cs1', f.tool],
    ['cs2Label', 'operation'],
    ['cs2', f.operation],
    ['cs3Label', 'resource'],
    ['cs3', f.resource],
    ['cs4Label', 'argsDigest'],
    ['cs4', f.argsDigest],
    ['cs5Label', 'chain'],
    ['cs5', f.chain.length > 0 ? f.chain.join(',') : null],
    ['cs6Label', 'mode'],
    ['cs6', f.mode],
  ];
  return (
    header +
    '|' +
    ext
      .filter(([, v]) => v !== null)
      .map(([k, v]) => `${k}=${cefValue(v!)}`)
      .join(' ')
  );
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
  const facility = h.facility ?? 13;
  const pri = facility * 8 + (deny ? 4 : 6);
  return `<${pri}>1 ${new Date(timeMs).toISOString()} ${field(h.hostname ?? HOST, 255)} ${field(h.appName ?? 'capframe', 48)} ${process.pid} decision - ${msg.replace(/[\r\n]/g, ' ')}`;
}
