/**
 * `export:` lists (under `audit:` for the guard, under `server.audit:` for the
 * service): where decisions go besides the audit log. Each entry is one of
 *
 *   - syslog: { host: siem.example, port: 6514, protocol: tls, ca: ./siem-ca.pem }
 *     format: cef              # or ocsf (JSON in the syslog message)
 *   - file: ./ocsf.jsonl       # OCSF JSON lines for a log shipper
 *   - otel: true               # spans and metrics through @opentelemetry/api
 *
 * and `maxQueue` (events held while a receiver is slow; the newest is dropped
 * and counted when full).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { fileExportSink, syslogSink, type ExportSink } from '../audit/export.ts';
import { otelSink } from '../audit/otel.ts';
import type { AuditEvent } from '../audit/record.ts';

const format = z.enum(['ocsf', 'cef'], { error: 'expected ocsf or cef' });
const maxQueue = z.number().int().min(1).max(10_000_000).optional();

export const exportEntrySchema = z.union([
  z.strictObject({
    syslog: z.strictObject({
      host: z.string().min(1),
      port: z.number().int().min(1).max(65535),
      protocol: z.enum(['udp', 'tcp', 'tls'], { error: 'expected udp, tcp or tls' }),
      ca: z.string().min(1).optional(),
      servername: z.string().min(1).optional(),
      facility: z.number().int().min(0).max(23).optional(),
      appName: z.string().min(1).max(48).optional(),
    }),
    format: format.default('cef'),
    maxQueue,
  }),
  z.strictObject({ file: z.string().min(1), format: format.default('ocsf'), maxQueue }),
  z.strictObject({ otel: z.literal(true) }),
]);
export const exportListSchema = z.array(exportEntrySchema).max(16);
export type ExportEntry = z.infer<typeof exportEntrySchema>;

export interface BuiltExports {
  /** Called with every decision, in the decider's context (OTel spans join the caller's trace). */
  readonly sinks: ((event: AuditEvent) => void)[];
  /** The queued ones, for /metrics and shutdown. */
  readonly queued: ExportSink[];
}

/** The list with its file and CA paths resolved against `baseDir`. */
export function resolveExportPaths(list: readonly ExportEntry[], baseDir: string): ExportEntry[] {
  const path = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  return list.map((e) => {
    if ('file' in e) return { ...e, file: path(e.file) };
    if ('syslog' in e && e.syslog.ca !== undefined) return { ...e, syslog: { ...e.syslog, ca: path(e.syslog.ca) } };
    return e;
  });
}

/** Builds the sinks of an `export:` list (paths resolved, see resolveExportPaths). ERR_CONFIG names `where`. */
export function buildExports(list: readonly ExportEntry[] | undefined, where: string): BuiltExports {
  const sinks: ((event: AuditEvent) => void)[] = [];
  const queued: ExportSink[] = [];
  const path = (p: string) => p;
  for (const [i, e] of (list ?? []).entries()) {
    try {
      if ('otel' in e) {
        const o = otelSink();
        sinks.push(o);
        queued.push(o);
        continue;
      }
      let s: ExportSink;
      if ('syslog' in e) {
        const g = e.syslog;
        s = syslogSink({
          host: g.host,
          port: g.port,
          protocol: g.protocol,
          format: e.format,
          ...(g.facility !== undefined ? { facility: g.facility } : {}),
          ...(g.appName !== undefined ? { appName: g.appName } : {}),
          ...(e.maxQueue !== undefined ? { maxQueue: e.maxQueue } : {}),
          ...(g.protocol === 'tls'
            ? { tls: { ...(g.ca ? { ca: readFileSync(path(g.ca)) } : {}), ...(g.servername ? { servername: g.servername } : {}) } }
            : {}),
        });
      } else {
        s = fileExportSink({ path: path(e.file), format: e.format, ...(e.maxQueue !== undefined ? { maxQueue: e.maxQueue } : {}) });
      }
      sinks.push(s);
      queued.push(s);
    } catch (err) {
      for (const q of queued) void q.close();
      throw new ConfigError(`${where}.export[${i}]: ${(err as Error).message}`, { cause: err });
    }
  }
  return { sinks, queued };
}
