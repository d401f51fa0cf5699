import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { toOcsf, toCef, cefHeader, syslogMessage, syslogSink, fileExportSink } from '../../src/audit/index.ts';
import { ocsfFormatter } from '../../src/audit/ocsf.ts';
import { eventFields } from '../../src/audit/record.ts';

const schema = JSON.parse(readFileSync(new URL('./fixtures/ocsf-api-activity-6003.schema.json', import.meta.url), 'utf8')) as object;
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
const T = Date.parse('2026-12-02T10:00:00.123Z');

const allow = {
  decision: 'allow',
  tool: 'read_file',
  operation: 'read',
  resource: 'files://shared/a.txt',
  subject: 'agent:support',
  callId: 'call-1',
  argsDigest: 'ab'.repeat(32),
  chainIds: ['00112233445566778899aabbccddeeff'],
  mode: 'local',
  latencyMs: 0.2,
  // what an event may carry but must never leave the process
  token: 'cft1.SECRET-TOKEN',
  args: { path: 'secret-argument' },
};
const deny = { ...allow, decision: 'deny', code: 'ERR_SCOPE_RESOURCE', operation: 'delete', callId: 'call-2' };

test('OCSF: allow and deny are valid API Activity (6003) events with the capframe fields mapped', () => {
  const a = toOcsf(allow, T);
  assert.ok(validate(a), JSON.stringify(validate.errors));
  assert.equal(a.class_uid, 6003);
  assert.equal(a.activity_id, 2);
  assert.equal(a.type_uid, 600302);
  assert.equal(a.status_id, 1);
  assert.equal(a.time, Math.floor(T));
  assert.deepEqual(a.actor, { user: { uid: 'agent:support' } });
  assert.deepEqual(a.api, { operation: 'read_file', request: { uid: 'call-1' } });
  assert.deepEqual(a.resources, [{ uid: 'files://shared/a.txt', type: 'read' }]);
  const d = toOcsf(deny, T);
  assert.ok(validate(d), JSON.stringify(validate.errors));
  assert.equal(d.status_id, 2);
  assert.equal(d.status_detail, 'ERR_SCOPE_RESOURCE');
  assert.equal(d.activity_id, 4);
  assert.deepEqual((d.unmapped as { capframe: Record<string, unknown> }).capframe.chain, ['00112233445566778899aabbccddeeff']);
  assert.equal((d.unmapped as { capframe: Record<string, unknown> }).capframe.args_digest, 'ab'.repeat(32));
  const text = JSON.stringify([a, d]);
  assert.ok(!text.includes('SECRET') && !text.includes('secret-argument'), 'no token or raw argument in OCSF');
  // An event with nothing known is still valid OCSF.
  assert.ok(validate(toOcsf({ decision: false }, T)), JSON.stringify(validate.errors));
});

/** A strict CEF parser: header fields split on unescaped `|`, extension on ` key=` boundaries. */
function parseCef(line: string): { header: string[]; ext: Record<string, string> } {
  const header: string[] = [];
  let cur = '';
  let i = 0;
  for (; i < line.length && header.length < 7; i++) {
    const c = line[i]!;
    if (c === '\\') {
      cur += line[++i];
      continue;
    }
    if (c === '|') {
      header.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  // Extension: walk the text once, honouring escapes; a value ends at an unescaped ` KEY=`.
  const rest = line.slice(i);
  const ext: Record<string, string> = {};
  let j = 0;
  while (j < rest.length) {
    const k = /^([A-Za-z0-9]+)=/.exec(rest.slice(j));
    if (!k) throw new Error(`bad extension at ${rest.slice(j)}`);
    j += k[0].length;
    let v = '';
    while (j < rest.length) {
      const c = rest[j]!;
      if (c === '\\') {
        const n = rest[j + 1]!;
        v += n === 'n' ? '\n' : n === 'r' ? '\r' : n;
        j += 2;
        continue;
      }
      if (c === '=') throw new Error('unescaped = in a value');
      if (c === ' ' && /^ [A-Za-z0-9]+=/.test(rest.slice(j))) {
        j++;
        break;
      }
      v += c;
      j++;
    }
    ext[k[1]!] = v;
  }
  return { header, ext };
}

test('CEF: hostile values cannot forge header fields, extension keys or extra lines', () => {
  const hostile = {
    ...deny,
    code: 'ERR_X|9|evil',
    subject: 'agent:x act=allow suser=admin\\',
    tool: 'to|ol=1\nCEF:0|forged|line',
    resource: 'files://a\r\nb=c\\=d',
  };
  const line = toCef(hostile, T, { productVersion: '1|2' });
  assert.ok(!/[\r\n]/.test(line), 'one line');
  const { header, ext } = parseCef(line);
  assert.deepEqual(header, ['CEF:0', 'capframe', 'capframe', '1|2', 'ERR_X|9|evil', 'tool call denied', '5']);
  assert.equal(ext.act, 'deny');
  assert.equal(ext.suser, 'agent:x act=allow suser=admin\\');
  assert.equal(ext.cs1, 'to|ol=1\nCEF:0|forged|line');
  assert.equal(ext.cs3, 'files://a\nb=c\\=d', 'a CRLF is written as the CEF line break \\n');
  assert.equal(ext.reason, 'ERR_X|9|evil');
  assert.ok(!line.includes('SECRET'));
  const msg = syslogMessage(line, T, true, { hostname: 'host name\nx', appName: 'cap frame' });
  assert.match(msg, /^<108>1 2026-12-02T10:00:00\.123Z host_name_x cap_frame \d+ decision - CEF:0\|/);
  assert.ok(!/[\r\n]/.test(msg));
});

/** Reads octet-counted syslog frames (RFC 6587) from a stream. */
function frames(onFrame: (m: string) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const sp = buf.indexOf(0x20);
      if (sp < 0) return;
      const len = Number(buf.subarray(0, sp).toString());
      if (buf.length < sp + 1 + len) return;
      onFrame(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
      buf = buf.subarray(sp + 1 + len);
    }
  };
}

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('syslog over UDP delivers one RFC 5424 message per decision', async () => {
  const got: string[] = [];
  const server = createSocket('udp4');
  server.on('message', (m) => got.push(m.toString('utf8')));
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', () => r()));
  const sink = syslogSink({ host: '127.0.0.1', port: server.address().port, protocol: 'udp', format: 'cef' });
  try {
    sink(allow);
    sink(deny);
    await until(() => got.length === 2, 'two datagrams');
    assert.match(got[0]!, /^<110>1 .* decision - CEF:0\|capframe\|capframe\|0\|ALLOW\|/);
    assert.match(got[1]!, /^<108>1 .* decision - CEF:0\|.*\|ERR_SCOPE_RESOURCE\|tool call denied\|5\|/);
    assert.equal(sink.stats.sent, 2);
  } finally {
    await sink.close();
    server.close();
  }
});

test('syslog over TCP: octet-counted frames, OCSF JSON inside, and reconnect after the receiver restarts', async () => {
  const got: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on(
      'data',
      frames((m) => got.push(m)),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const sink = syslogSink({ host: '127.0.0.1', port, protocol: 'tcp', format: 'ocsf' });
  try {
    sink(allow);
    sink(deny);
    await until(() => got.length === 2, 'two frames');
    const o = JSON.parse(got[1]!.slice(got[1]!.indexOf(' - ') + 3)) as { class_uid: number; status_detail: string };
    assert.equal(o.class_uid, 6003);
    assert.equal(o.status_detail, 'ERR_SCOPE_RESOURCE');
    // The receiver drops the connection: the next decisions arrive over a new one.
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 50));
    sink(allow);
    await until(() => got.length >= 3, 'a frame after reconnecting');
  } finally {
    await sink.close();
    server.close();
  }
});

test('syslog over TLS checks the receiver certificate', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'k.pem'),
        '-out',
        join(dir, 'c.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=siem.test',
        '-addext',
        'subjectAltName=DNS:siem.test',
      ],
      { stdio: 'ignore' },
    );
    const cert = readFileSync(join(dir, 'c.pem'));
    const got: string[] = [];
    const server = createTlsServer({ key: readFileSync(join(dir, 'k.pem')), cert }, (s) =>
      s.on(
        'data',
        frames((m) => got.push(m)),
      ),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const good = syslogSink({ host: '127.0.0.1', port, protocol: 'tls', format: 'cef', tls: { ca: cert, servername: 'siem.test' } });
    const untrusting = syslogSink({ host: '127.0.0.1', port, protocol: 'tls', format: 'cef', tls: { servername: 'siem.test' } });
    try {
      good(deny);
      untrusting(deny);
      await until(() => got.length === 1 && untrusting.stats.errors > 0, 'one TLS frame and one refused handshake');
      assert.match(got[0]!, /ERR_SCOPE_RESOURCE/);
      assert.equal(untrusting.stats.sent, 0);
    } finally {
      await good.close();
      await untrusting.close();
      server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a receiver that stops reading never slows a decision: the queue fills, drops are counted', async () => {
  const server = createServer((s) => s.pause()); // accepts, never reads
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const sink = syslogSink({ host: '127.0.0.1', port, protocol: 'tcp', format: 'ocsf', maxQueue: 1000 });
  try {
    const big = { ...deny, resource: 'files://' + 'x'.repeat(900) };
    let worst = 0;
    // Feed far more than the socket buffers and the queue can hold, yielding so the sink runs.
    for (let round = 0; round < 60; round++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 1000; i++) sink(big);
      worst = Math.max(worst, Number(process.hrtime.bigint() - t0) / 1000 / 1000);
      await new Promise((r) => setImmediate(r));
    }
    await until(() => sink.stats.dropped > 0, 'drops');
    assert.ok(sink.stats.queued <= 1000, `queue bounded: ${sink.stats.queued}`);
    assert.ok(sink.stats.dropped > 0);
    // Per decision the sink only queues; this is not a timing assertion, only a sanity bound on a loaded machine.
    assert.ok(worst < 1000, `1000 calls of the sink took ${worst} us`);
  } finally {
    await sink.close();
    server.close();
  }
});

test('file export writes OCSF JSON lines with mode 0600', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-ocsf-'));
  try {
    const path = join(dir, 'o.jsonl');
    writeFileSync(path, '');
    const sink = fileExportSink({ path });
    sink(allow);
    sink(deny);
    await sink.flush();
    await sink.close();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    assert.equal(lines.length, 2);
    for (const l of lines) assert.ok(validate(JSON.parse(l)), JSON.stringify(validate.errors));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Values an agent or a model may put in a subject, tool, resource or call id. */
const HOSTILE = [
  'plain',
  'quote " and backslash \\',
  'ctl \u0000\u0001\u001f\u007f tab\tnl\nr\r',
  'lone \ud800 high and \udc00 low',
  'pair \ud83d\ude00 and \u2028\u2029',
  'pipe | eq = both \\|\\=',
  'ünïcødé ✓',
  'x'.repeat(2000),
  '',
];

test('OCSF text written member by member is exactly JSON.stringify(toOcsf(...)), hostile values included', () => {
  let n = 0;
  for (const v of HOSTILE) {
    for (const op of ['read', 'Write', 'delete', 'create', 'approve', v]) {
      for (const base of [allow, deny, { decision: false }, { decision: 'deny', code: v, tool: v }]) {
        const ev = { ...base, subject: v, tool: v, resource: v, callId: v, operation: op, argsDigest: v, mode: v, source: v, chainIds: [v, 'ab12'] };
        for (const e of [ev, base, { ...ev, latencyMs: 12.3456, subject: undefined, callId: undefined, resource: undefined }]) {
          for (const opts of [{}, { productVersion: '1.2.3' }, { productVersion: v }]) {
            const want = JSON.stringify(toOcsf(e, T + 0.7, opts));
            assert.equal(ocsfFormatter(opts)(eventFields(e), T + 0.7), want);
            n++;
          }
        }
      }
    }
  }
  assert.ok(n > 400);
});

/** CEF as the layout defines it, written the plain way: pairs, filtered, escaped, joined. */
function referenceCef(event: object, timeMs: number, productVersion?: string): string {
  const f = eventFields(event);
  const allowed = f.decision === 'allow';
  const header = [
    'CEF:0',
    'capframe',
    'capframe',
    cefHeader(productVersion ?? '0'),
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
  const esc = (x: string) =>
    x
      .replace(/\\/g, '\\\\')
      .replace(/=/g, '\\=')
      .replace(/\r\n|\n/g, '\\n')
      .replace(/\r/g, '\\r');
  return (
    header +
    '|' +
    ext
      .filter(([, x]) => x !== null)
      .map(([k, x]) => `${k}=${esc(x!)}`)
      .join(' ')
  );
}

test('CEF text written member by member is the reference layout, hostile values included; syslog framing likewise', () => {
  for (const v of HOSTILE) {
    for (const base of [allow, deny, { decision: false }, { decision: 'deny', code: v }]) {
      const ev = { ...base, subject: v, tool: v, resource: v, callId: v, operation: v, argsDigest: v, mode: v, chainIds: ['ab12', 'cd34'] };
      for (const e of [ev, base]) {
        for (const pv of [undefined, '1|2\\3', v]) {
          assert.equal(toCef(e, T, pv !== undefined ? { productVersion: pv } : {}), referenceCef(e, T, pv));
        }
      }
    }
    const msg = syslogMessage(`a${v}b`, T, v.length % 2 === 0, { hostname: v, appName: v, facility: 3 });
    assert.ok(!/[\r\n]/.test(msg), 'one line');
    assert.match(msg, /^<(28|30)>1 2026-12-02T10:00:00\.123Z [\x21-\x7e]+ [\x21-\x7e]+ \d+ decision - a/);
  }
});
