/**
 * Decision export to a SIEM: OCSF JSON or CEF over syslog (RFC 5424 over UDP,
 * or over TCP/TLS with octet-counting framing, RFC 6587 §3.4.1 / RFC 5425),
 * or OCSF JSON lines to a file.
 *
 * A sink never blocks or fails a decision: calling it only appends the event
 * to a bounded queue (the newest event is dropped, and counted, when the
 * queue is full); formatting and sending happen later, on the event loop, as
 * far as the connection takes them. A slow or dead receiver therefore shows
 * up as `dropped` in `stats` (and in the service's /metrics), never as a
 * slower or failed call.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { openSync, writeSync, closeSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { InvalidArgumentError } from '../errors.ts';
import { cefText, syslogFramer, type SyslogHeader } from './cef.ts';
import { ocsfFormatter } from './ocsf.ts';
import { eventFields, type AuditEvent, type EventFields } from './record.ts';

export interface ExportStats {
  /** Events handed to the transport. */
  sent: number;
  /** Events dropped because the queue was full (receiver slow, dead or unreachable). */
  dropped: number;
  /** Transport errors (connection refused or lost, send failed). */
  errors: number;
  /** Events waiting. */
  readonly queued: number;
}

export interface ExportSink {
  (event: AuditEvent): void;
  /** A name for metrics, e.g. `syslog-tcp:siem.example:6514`. */
  readonly name: string;
  readonly stats: ExportStats;
  /** Resolves when the queue is empty or `timeoutMs` passed. */
  flush(timeoutMs?: number): Promise<void>;
  /** Stops sending; queued events are dropped (counted). */
  close(): Promise<void>;
}

export type ExportFormat = 'ocsf' | 'cef';

export interface SyslogExportOptions extends SyslogHeader {
  readonly host: string;
  readonly port: number;
  readonly protocol: 'udp' | 'tcp' | 'tls';
  readonly format: ExportFormat;
  /** TLS settings (protocol `tls`): CA, client certificate, servername. Certificates are always checked. */
  readonly tls?: Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'servername'>;
  /** Events held while the receiver is slow or away. Default 10,000. */
  readonly maxQueue?: number;
  readonly productVersion?: string;
  /** Milliseconds since the epoch; inject in tests. */
  readonly now?: () => number;
}

/** Bytes a connection may hold unsent before the sink stops writing to it. */
const HIGH_WATER = 256 * 1024;
const MAX_BACKOFF_MS = 5_000;
/** Characters of file export text gathered before one write. */
const CHUNK = 64 * 1024;

interface Item {
  readonly event: AuditEvent;
  readonly time: number;
}

/** The queue and the scheduling every export sink shares; `drain` sends what it can and returns how many it took. */
function queuedSink(
  name: string,
  maxQueue: number,
  now: () => number,
  drain: (items: Item[]) => number,
  stop: () => Promise<void>,
): ExportSink & { kick(): void } {
  if (!Number.isSafeInteger(maxQueue) || maxQueue < 1) throw new InvalidArgumentError('maxQueue must be a whole number from 1');
  let queue: Item[] = [];
  let scheduled = false;
  let closed = false;
  const waiters: (() => void)[] = [];
  const stats = {
    sent: 0,
    dropped: 0,
    errors: 0,
    get queued() {
      return queue.length;
    },
  };
  const run = (): void => {
    scheduled = false;
    if (closed || queue.length === 0) return;
    let taken = 0;
    try {
      taken = drain(queue);
    } catch {
      stats.errors++;
    }
    if (taken > 0) {
      stats.sent += taken;
      queue = taken >= queue.length ? [] : queue.slice(taken);
    }
    if (queue.length === 0) while (waiters.length > 0) waiters.shift()!();
  };
  const kick = (): void => {
    if (!scheduled && !closed) {
      scheduled = true;
      setImmediate(run);
    }
  };
  const sink = ((event: AuditEvent): void => {
    if (closed) return;
    if (queue.length >= maxQueue) {
      stats.dropped++;
      return;
    }
    queue.push({ event, time: now() });
    kick();
  }) as ExportSink & { kick(): void };
  Object.defineProperties(sink, {
    name: { value: name },
    stats: { value: stats },
    kick: { value: kick },
    flush: {
      value: (timeoutMs = 5_000): Promise<void> =>
        queue.length === 0
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              const t = setTimeout(resolve, timeoutMs);
              t.unref();
              waiters.push(() => {
                clearTimeout(t);
                resolve();
              });
              kick();
            }),
    },
    close: {
      value: async (): Promise<void> => {
        if (closed) return;
        closed = true;
        stats.dropped += queue.length;
        queue = [];
        while (waiters.length > 0) waiters.shift()!();
        await stop();
      },
    },
  });
  return sink;
}

function formatter(o: { format: ExportFormat; productVersion?: string }): (f: EventFields, time: number) => string {
  const opts = o.productVersion ? { productVersion: o.productVersion } : {};
  if (o.format === 'ocsf') return ocsfFormatter(opts);
  if (o.format === 'cef') return (f, time) => cefText(f, time, opts);
  throw new InvalidArgumentError(`unknown export format ${JSON.stringify(o.format)} (ocsf or cef)`);
}

/** Exports decisions to a syslog receiver. */
export function syslogSink(o: SyslogExportOptions): ExportSink {
  if (!o || typeof o.host !== 'string' || o.host === '') throw new InvalidArgumentError('syslogSink needs a host');
  if (!Number.isSafeInteger(o.port) || o.port < 1 || o.port > 65535) throw new InvalidArgumentError('syslogSink needs a port from 1 to 65535');
  if (!['udp', 'tcp', 'tls'].includes(o.protocol)) throw new InvalidArgumentError('syslog protocol is udp, tcp or tls');
  const body = formatter(o);
  const now = o.now ?? Date.now;
  const frame = syslogFramer(o);
  const message = (i: Item): string => {
    const f = eventFields(i.event);
    return frame(body(f, i.time), i.time, f.decision === 'deny');
  };
  const name = `syslog-${o.protocol}:${o.host}:${o.port}`;

  if (o.protocol === 'udp') {
    let udp: UdpSocket | undefined;
    let inFlight = 0;
    const sink = queuedSink(
      name,
      o.maxQueue ?? 10_000,
      now,
      (items) => {
        if (!udp) {
          udp = createSocket(o.host.includes(':') ? 'udp6' : 'udp4');
          udp.on('error', () => sink.stats.errors++);
          udp.unref();
        }
        let n = 0;
        // Datagrams the kernel has not taken yet are bounded like a connection's buffer.
        for (; n < items.length && inFlight < 1024; n++) {
          const buf = Buffer.from(message(items[n]!), 'utf8');
          inFlight++;
          udp.send(buf, o.port, o.host, (e) => {
            inFlight--;
            if (e) sink.stats.errors++;
            if (inFlight === 0) sink.kick();
          });
        }
        return n;
      },
      async () => {
        const u = udp;
        udp = undefined;
        if (u) await new Promise<void>((r) => u.close(() => r()));
      },
    );
    return sink;
  }

  // TCP or TLS: one connection, re-established with backoff when lost.
  let socket: Socket | undefined;
  let connected = false;
  let backoff = 100;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;
  const open = (): void => {
    if (socket || stopped || retry) return;
    const s =
      o.protocol === 'tls'
        ? tlsConnect({ host: o.host, port: o.port, ...(o.tls ?? {}), rejectUnauthorized: true })
        : netConnect({ host: o.host, port: o.port });
    socket = s;
    s.setNoDelay(true);
    s.unref();
    s.once(o.protocol === 'tls' ? 'secureConnect' : 'connect', () => {
      connected = true;
      backoff = 100;
      sink.kick();
    });
    s.on('drain', () => sink.kick());
    s.on('data', () => {}); // a receiver may answer; nothing to read
    s.on('error', () => sink.stats.errors++);
    s.on('close', () => {
      if (socket === s) {
        socket = undefined;
        connected = false;
      }
      if (stopped) return;
      retry = setTimeout(() => {
        retry = undefined;
        open();
        sink.kick();
      }, backoff);
      retry.unref();
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    });
  };
  const sink = queuedSink(
    name,
    o.maxQueue ?? 10_000,
    now,
    (items) => {
      open();
      const s = socket;
      if (!s || !connected) return 0;
      let n = 0;
      let chunk = '';
      for (; n < items.length && s.writableLength + chunk.length < HIGH_WATER; n++) {
        const m = message(items[n]!);
        chunk += `${Buffer.byteLength(m, 'utf8')} ${m}`;
      }
      if (chunk !== '') s.write(chunk);
      return n;
    },
    async () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      const s = socket;
      socket = undefined;
      if (s) {
        s.destroy();
        await new Promise<void>((r) => (s.closed ? r() : s.once('close', () => r())));
      }
    },
  );
  return sink;
}

export interface FileExportOptions {
  readonly path: string;
  readonly format?: ExportFormat;
  readonly maxQueue?: number;
  readonly productVersion?: string;
  readonly now?: () => number;
}

/** Exports decisions as lines (OCSF JSON by default) appended to a file (mode 0600), for a log shipper to pick up. */
export function fileExportSink(o: FileExportOptions): ExportSink {
  if (!o || typeof o.path !== 'string' || o.path === '') throw new InvalidArgumentError('fileExportSink needs a path');
  const body = formatter({ format: o.format ?? 'ocsf', ...(o.productVersion ? { productVersion: o.productVersion } : {}) });
  let fd: number | undefined = openSync(o.path, 'a', 0o600);
  return queuedSink(
    `file:${o.path}`,
    o.maxQueue ?? 10_000,
    o.now ?? Date.now,
    (items) => {
      if (fd === undefined) return 0;
      // Written in chunks of about 64 KiB: few system calls, and no string of the whole backlog.
      let text = '';
      for (const i of items) {
        text += body(eventFields(i.event), i.time) + '\n';
        if (text.length >= CHUNK) {
          writeSync(fd, text);
          text = '';
        }
      }
      if (text !== '') writeSync(fd, text);
      return items.length;
    },
    () => {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      return Promise.resolve();
    },
  );
}
