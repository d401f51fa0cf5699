import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { tool } from 'langchain';
import { z } from 'zod';
import { CapframeError } from '../../src/errors.ts';
import { formatPublicKey, generateKey, serializePrivateKey } from '../../src/index.ts';
import { Guard, guardTools, loadConfig, parseConfig, definePolicy } from '../../src/langchain/index.ts';

const pub = formatPublicKey(generateKey().publicKey);
const base = (tools: string) => `trust:\n  authorities:\n    - ${pub}\naudit:\n  sink: none\ntools:\n${tools}`;

function configError(text: string, opts: Parameters<typeof parseConfig>[1] = {}): string {
  try {
    parseConfig(text, { file: 'capframe.yaml', ...opts });
  } catch (e) {
    assert.ok(e instanceof CapframeError);
    assert.equal(e.code, 'ERR_CONFIG');
    return e.message;
  }
  assert.fail('expected ERR_CONFIG');
}

test('the example config at the repository root parses', () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-cfg-'));
  try {
    writeFileSync(join(dir, 'authority.pub'), `# authority\n${pub}\n`);
    const cfg = loadConfig('capframe.config.example.yaml', { env: { CAPFRAME_KEYS: dir, CAPFRAME_AUDIT_DIR: dir } });
    assert.equal(cfg.trusted.length, 1);
    assert.deepEqual([cfg.clockSkew, cfg.invocationWindow, cfg.replayCacheSize], [30, 30, 200000]);
    assert.deepEqual(cfg.audit, { sink: 'jsonl', path: join(dir, 'capframe-decisions.jsonl') });
    assert.deepEqual(Object.keys(cfg.tools), ['get_ticket', 'update_ticket', 'send_email', 'read_file', 'create_event', 'send_money']);
    const send = cfg.tools.send_email!;
    assert.deepEqual([send.operation, send.attested, send.proofWindow, send.resource.text], ['send', true, 60, 'mail://acme.example/outbound']);
    assert.deepEqual(cfg.tools.update_ticket!.constraints, { status: { type: 'oneOf', values: ['open', 'pending', 'solved'] } });
    assert.equal(cfg.tools.read_file!.resource.render({ path: 'docs/tax/2025-summary.pdf' }), 'file://home/docs/tax/2025-summary.pdf');
    assert.deepEqual(Object.keys(cfg.tools.create_event!.constraints!), ['participants[]', 'participants']);
    assert.deepEqual(cfg.tools.send_money!.constraints!.amount, { type: 'decimal', min: '0.01', max: '500' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('each kind of mistake names the file, the line and the field', () => {
  // YAML syntax
  assert.match(configError('trust:\n  authorities: [a\n'), /^capframe\.yaml:\d+ /);
  // duplicate key
  assert.match(
    configError(`${base('  a:\n    resource: x://y\n    operation: read\n')}  a:\n    resource: x://z\n    operation: read\n`),
    /^capframe\.yaml:10 Map keys must be unique/,
  );
  // unknown top-level key
  assert.equal(configError(`${base('')}  {}\nextra: 1\n`).split('\n')[0], 'capframe.yaml:8 extra: unknown field');
  // unknown key in a tool
  assert.equal(
    configError(base('  send_email:\n    resource: mail://x/out\n    operation: send\n    recipient: bob\n')),
    'capframe.yaml:10 tools.send_email.recipient: unknown field',
  );
  // wrong type
  assert.equal(
    configError(base('  t:\n    resource: x://y\n    operation: read\n    attested: "yes"\n')),
    'capframe.yaml:10 tools.t.attested: expected true or false',
  );
  // missing field
  assert.equal(configError(base('  t:\n    resource: x://y\n')), 'capframe.yaml:7 tools.t.operation: is required');
  // bad template: placeholder in the scheme, unclosed brace, not normal form
  assert.match(
    configError(base('  t:\n    resource: "{scheme}://y"\n    operation: read\n')),
    /^capframe\.yaml:8 tools\.t\.resource: a resource template starts with a literal scheme/,
  );
  assert.match(configError(base('  t:\n    resource: x://y/{id\n    operation: read\n')), /^capframe\.yaml:8 tools\.t\.resource: unclosed "\{"/);
  assert.match(
    configError(base('  t:\n    resource: X://%61/{id}\n    operation: read\n')),
    /^capframe\.yaml:8 tools\.t\.resource: the literal parts are not in normal form/,
  );
  assert.match(
    configError(base('  t:\n    resource: x://y/{a b}\n    operation: read\n')),
    /^capframe\.yaml:8 tools\.t\.resource: "\{a b\}" is not an argument placeholder/,
  );
  // bad operation
  assert.match(configError(base('  t:\n    resource: x://y\n    operation: "read write"\n')), /^capframe\.yaml:9 tools\.t\.operation: must match/);
  // constraints: unknown type, unknown field, semantic error
  assert.match(
    configError(base('  t:\n    resource: x://y\n    operation: read\n    constraints:\n      n:\n        type: wildcard\n        pattern: a\n')),
    /^capframe\.yaml:11 tools\.t\.constraints\.n: constraint on "n": unknown type "wildcard" \(exact, oneOf/,
  );
  assert.equal(
    configError(base('  t:\n    resource: x://y\n    operation: read\n    constraints:\n      n:\n        type: range\n        min: 5\n        max: 1\n')),
    'capframe.yaml:11 tools.t.constraints.n: constraint on "n": range min > max',
  );
  assert.equal(
    configError(base('  t:\n    resource: x://y\n    operation: read\n    constraints:\n      n:\n        type: glob\n        pattern: a\n        flags: i\n')),
    'capframe.yaml:11 tools.t.constraints.n: constraint on "n": unknown field "flags" for type glob',
  );
  // durations
  assert.equal(
    configError(`trust:\n  authorities: [${pub}]\n  clockSkew: soon\n`),
    'capframe.yaml:3 trust.clockSkew: bad duration "soon" (use e.g. 30s, 10m, 1h, 7d)',
  );
  assert.equal(
    configError(base('  t:\n    resource: x://y\n    operation: read\n    proofWindow: 10m\n')),
    'capframe.yaml:10 tools.t.proofWindow: must be between 1 and 300 seconds',
  );
  // trust
  assert.equal(configError('trust:\n  authorities: []\n'), 'capframe.yaml:2 trust.authorities: at least one trusted authority key is needed');
  assert.equal(configError('tools: {}\n'), 'capframe.yaml:1 trust: is required');
  assert.match(configError('trust:\n  authorities:\n    - cfk1.tooshort\n'), /^capframe\.yaml:3 trust\.authorities\[0\]: /);
  assert.match(
    configError('trust:\n  authorities:\n    - key: cfsk1.abc\n'),
    /^capframe\.yaml:3 trust\.authorities\[0\]\.key: an inline authority key is a cfk1\.… public key \(private keys never go in the config\)/,
  );
  assert.equal(
    configError('trust:\n  authorities:\n    - file: ${NO_SUCH_VAR_X}/k.pub\n', { env: {} }),
    'capframe.yaml:3 trust.authorities[0].file: environment variable NO_SUCH_VAR_X is not set',
  );
  // audit
  assert.equal(configError(`trust:\n  authorities: [${pub}]\naudit:\n  sink: file\n`), 'capframe.yaml:4 audit.sink: expected jsonl, stderr or none');
  assert.equal(configError(`trust:\n  authorities: [${pub}]\naudit:\n  sink: jsonl\n`), 'capframe.yaml:4 audit.sink: sink jsonl needs a path');
  // a tool called __proto__ is refused, not silently dropped
  assert.equal(configError(base('  __proto__:\n    resource: x://y\n    operation: read\n')), 'capframe.yaml:7 tools.__proto__: reserved name, not a tool');
  // several problems are all reported, first line first
  const many = configError(base('  t:\n    resource: x://y\n    operation: read\n    bogus: 1\n  u:\n    resource: "{x}://y"\n    operation: 5\n'));
  assert.deepEqual(
    many.split('\n').map((l) => l.split(' ')[0]),
    ['capframe.yaml:10', 'capframe.yaml:13'],
  );
});

test('a private key file is refused as an authority key file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-cfg-'));
  try {
    writeFileSync(join(dir, 'authority.key'), serializePrivateKey(generateKey()));
    const msg = configError('trust:\n  authorities:\n    - file: authority.key\n', { baseDir: dir });
    assert.match(msg, /^capframe\.yaml:3 trust\.authorities\[0\]\.file: this is a private key file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a policy naming an argument the tool lacks is a load-time error with the line', () => {
  const cfg = parseConfig(
    base(
      [
        '  send_email:',
        '    resource: mail://acme.example/{recipient}',
        '    operation: send',
        '    constraints:',
        '      cc:',
        '        type: prefix',
        '        prefix: a',
      ].join('\n') + '\n',
    ),
    { file: 'capframe.yaml' },
  );
  const sendEmail = tool(async () => 'sent', { name: 'send_email', description: 'd', schema: z.object({ to: z.string(), body: z.string() }) });
  const jsonTool = tool(async () => 'x', { name: 'send_email', description: 'd', schema: { type: 'object', properties: { to: { type: 'string' } } } });
  for (const t of [sendEmail, jsonTool]) {
    try {
      guardTools([t], new Guard({ config: cfg, sink: null }));
      assert.fail('expected ERR_CONFIG');
    } catch (e) {
      assert.equal((e as CapframeError).code, 'ERR_CONFIG');
      const lines = (e as Error).message.split('\n');
      assert.match(lines[0]!, /^capframe\.yaml:8 tools\.send_email\.resource: unknown argument "recipient" \(the tool takes "to"/);
      assert.equal(lines[1], 'capframe.yaml:11 tools.send_email.constraints.cc: unknown argument "cc"');
    }
  }
  assert.throws(
    () => definePolicy('t', { resource: 'x://{a', operation: 'read' }),
    (e: CapframeError) => e.code === 'ERR_CONFIG' && /tools\.t\.resource: unclosed/.test(e.message),
  );
});

test('one file for agent and service: optional server: and remote: sections', () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-cfg-'));
  try {
    const file = join(dir, 'capframe.yaml');
    writeFileSync(
      file,
      [
        'trust:',
        `  authorities: [${pub}]`,
        'audit:',
        '  sink: none',
        'server:',
        '  port: 0',
        '  requestTimeout: 8s',
        '  audit:',
        '    path: ./served.jsonl',
        'remote:',
        '  url: http://127.0.0.1:8787',
        '  timeout: 500',
        '  fallback: local',
        '',
      ].join('\n'),
    );
    const cfg = loadConfig(file);
    assert.equal(cfg.server?.port, 0);
    assert.equal(cfg.server?.requestTimeout, 8000);
    assert.equal(cfg.server?.host, '127.0.0.1'); // defaults applied
    assert.deepEqual(cfg.server?.audit, { path: './served.jsonl', maxBytes: 64 * 1024 * 1024, maxFiles: 0, fsync: false });
    assert.deepEqual(cfg.remote, { url: 'http://127.0.0.1:8787', timeout: 500, fallback: 'local' });
    // absent sections stay absent; `server:` with nothing under it is no section
    const plain = parseConfig(`trust:\n  authorities: [${pub}]\n`);
    assert.deepEqual([plain.server, plain.remote], [undefined, undefined]);
    assert.equal(parseConfig(`trust:\n  authorities: [${pub}]\nserver:\n`).server, undefined);
    assert.equal(parseConfig(`trust:\n  authorities: [${pub}]\nremote:\n  url: https://v.example\n`).remote?.fallback, 'none');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mistakes inside server: and remote: name the file, the line and the field', () => {
  const head = `trust:\n  authorities: [${pub}]\n`; // lines 1-2
  assert.equal(configError(`${head}server:\n  port: 0\n  bogus: 1\n`), 'capframe.yaml:5 server.bogus: unknown field');
  assert.match(configError(`${head}server:\n  port: "x"\n`), /^capframe\.yaml:4 server\.port: .*expected number/);
  assert.match(configError(`${head}server:\n  port: 70000\n`), /^capframe\.yaml:4 server\.port: /);
  assert.match(configError(`${head}server:\n  requestTimeout: soon\n`), /^capframe\.yaml:4 server\.requestTimeout: bad duration "soon"/);
  assert.equal(
    configError(`${head}server:\n  headersTimeout: 20s\n  requestTimeout: 10s\n`),
    'capframe.yaml:4 server.headersTimeout: headersTimeout must not exceed requestTimeout',
  );
  assert.equal(configError(`${head}server:\n  audit:\n    path: a.jsonl\n    rotate: yes\n`), 'capframe.yaml:6 server.audit.rotate: unknown field');
  assert.equal(
    configError(`${head}server:\n  revocation:\n    db: a.db\n`),
    'capframe.yaml:4 server.revocation.keyFile: give keyFile (a key file) or signer (a signer URI), one of them',
  );
  assert.equal(configError(`${head}remote:\n  url: http://127.0.0.1:1\n  retries: 3\n`), 'capframe.yaml:5 remote.retries: unknown field');
  assert.equal(configError(`${head}remote:\n  url: ftp://x\n`), 'capframe.yaml:4 remote.url: expected an http:// or https:// URL');
  assert.match(configError(`${head}remote:\n  url: http://x\n  timeout: 2s\n`), /^capframe\.yaml:5 remote\.timeout: .*expected number/);
  assert.match(configError(`${head}remote:\n  url: http://x\n  fallback: open\n`), /^capframe\.yaml:5 remote\.fallback: /);
  assert.equal(configError(`${head}remote:\n  timeout: 100\n`), 'capframe.yaml:3 remote.url: is required');
});

test('the commented-out remote:, replay:, server: and mcp: examples are valid once uncommented', () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-cfg-'));
  try {
    writeFileSync(join(dir, 'authority.pub'), `${pub}\n`);
    const text = readFileSync('capframe.config.example.yaml', 'utf8');
    const open = text.replace(/^#(?=remote:|server:|replay:|mcp:| {2})/gm, '');
    const cfg = parseConfig(open, { env: { CAPFRAME_KEYS: dir, CAPFRAME_AUDIT_DIR: dir } });
    assert.deepEqual(cfg.remote, {
      url: 'http://127.0.0.1:8787',
      timeout: 2000,
      connections: 16,
      batch: true,
      fallback: 'none',
      revocation: 'sync',
      revocationForm: 'exact',
    });
    assert.deepEqual(cfg.replay, { store: 'memory' });
    assert.deepEqual(cfg.mcp?.client, { serviceKey: `cfk1.${'A'.repeat(43)}`, sessions: true, sessionTtl: 3600 });
    assert.deepEqual(
      { ...cfg.mcp?.server?.sessions, keyFile: basename(cfg.mcp!.server!.sessions!.keyFile) },
      {
        keyFile: 'mcp-session.key',
        maxTtl: 3600,
        maxPerHolder: 64,
        maxSessions: 100000,
        handshakesPerSecond: 20,
      },
    );
    assert.equal(cfg.server?.port, 8787);
    assert.deepEqual(
      { ...cfg.server?.sessions, keyFile: basename(cfg.server!.sessions!.keyFile) },
      { keyFile: 'service.key', maxTtl: 3600, maxPerHolder: 64, maxSessions: 100000, handshakesPerSecond: 20 },
    );
    assert.deepEqual([cfg.server?.headersTimeout, cfg.server?.requestTimeout, cfg.server?.revocation?.maxAge], [5000, 10000, 300000]);
    assert.deepEqual(Object.keys(cfg.tools), ['get_ticket', 'update_ticket', 'send_email', 'read_file', 'create_event', 'send_money']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
