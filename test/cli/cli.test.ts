/**
 * The real `capframe` CLI, end to end, through child processes
 * (`node bin/capframe.js ...`, the built dist/). Kept to a few dozen spawns.
 */
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'capframe.js');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let dir = '';
const outputs: string[] = [];

function cli(...args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, timeout: 20_000, env: { ...process.env, NODE_OPTIONS: '' } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- an ExecFileException is an Error; @types/node builds its type with Omit<>, which hides that
      if (err && typeof err.code !== 'number') return reject(err);
      outputs.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

const ARGS = '{"table":"accounts","limit":10}';

function oneErrorLine(r: Result): string {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `expected one stderr line, got: ${r.stderr}`);
  return lines[0]!;
}

describe('capframe CLI (child processes)', () => {
  let authPub = '';
  const seeds: string[] = [];

  before(async () => {
    assert.ok(existsSync(join(ROOT, 'dist', 'cli', 'main.js')), 'dist/ is missing: run `npm run build` first');
    dir = mkdtempSync(join(tmpdir(), 'capframe-cli-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    // No command ever printed a private key.
    for (const s of seeds) for (const o of outputs) assert.ok(!o.includes(s), 'a private key appeared in CLI output');
  });

  const mode = (f: string) => statSync(join(dir, f)).mode & 0o777;

  test('keygen writes NAME.key (0600) and NAME.pub (0644) and prints only kid, publicKey and the .pub path', async () => {
    const rs = await Promise.all(['auth.key', 'agent.key', 'sum.key', 'other.key'].map((f) => cli('keygen', '--out', f)));
    for (const [i, f] of ['auth.key', 'agent.key', 'sum.key', 'other.key'].entries()) {
      const r = rs[i]!;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      const printed = JSON.parse(r.stdout) as Record<string, string>;
      assert.deepEqual(Object.keys(printed).sort(), ['kid', 'publicKey', 'publicKeyFile']);
      assert.match(printed.publicKey!, /^cfk1\.[A-Za-z0-9_-]{43}$/);
      assert.equal(mode(f), 0o600);
      const pub = f.replace(/\.key$/, '.pub');
      assert.equal(printed.publicKeyFile, pub);
      assert.equal(mode(pub), 0o644 & ~process.umask());
      assert.equal(readFileSync(join(dir, pub), 'utf8'), `${printed.publicKey}\n`);
      const file = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, string>;
      assert.equal(file.publicKey, printed.publicKey);
      assert.equal(file.kid, printed.kid);
      assert.ok(!r.stdout.includes(file.privateKey!));
      seeds.push(file.privateKey!);
      if (f === 'auth.key') authPub = printed.publicKey!;
    }
    // an existing key file is never replaced silently
    const again = await cli('keygen', '--out', 'auth.key');
    assert.equal(again.code, 1);
    assert.match(oneErrorLine(again), /already exists/);
  });

  test('keygen refuses a .pub name for the private key, and an existing .pub without leaving a private key behind', async () => {
    writeFileSync(join(dir, 'taken.pub'), 'cfk1.someone-elses\n');
    const [pubName, taken] = await Promise.all([cli('keygen', '--out', 'mine.pub'), cli('keygen', '--out', 'taken.key')]);
    assert.equal(pubName.code, 2);
    assert.match(oneErrorLine(pubName), /looks like a public key file/);
    assert.ok(!existsSync(join(dir, 'mine.pub')) && !existsSync(join(dir, 'mine.pub.pub')));
    assert.equal(taken.code, 1);
    assert.match(oneErrorLine(taken), /"taken\.pub" already exists/);
    assert.ok(!existsSync(join(dir, 'taken.key')), 'no private key without its public file');
    assert.equal(readFileSync(join(dir, 'taken.pub'), 'utf8'), 'cfk1.someone-elses\n');
    // a FILE not ending in .key gets FILE.pub; pubkey recovers the public key of any private key file
    const other = await cli('keygen', '--out', 'plain');
    assert.equal(other.code, 0, other.stderr);
    assert.equal((JSON.parse(other.stdout) as { publicKeyFile: string }).publicKeyFile, 'plain.pub');
    const [printed, written] = await Promise.all([cli('pubkey', 'plain'), cli('pubkey', 'plain', '--out', 'plain2.pub')]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout, readFileSync(join(dir, 'plain.pub'), 'utf8'));
    assert.equal(written.code, 0, written.stderr);
    assert.equal(readFileSync(join(dir, 'plain2.pub'), 'utf8'), printed.stdout);
    const wrong = await cli('pubkey', 'plain2.pub');
    assert.equal(wrong.code, 1);
    assert.match(oneErrorLine(wrong), /^ERR_MALFORMED: KEYFILE "plain2\.pub": holds a public key/);
    seeds.push((JSON.parse(readFileSync(join(dir, 'plain'), 'utf8')) as { privateKey: string }).privateKey);
  });

  test('issue -> delegate -> invoke -> verify allowed; mismatches and untrusted keys denied', async () => {
    // holder given as a cfk1. text, as keygen printed it, and as a key file
    const agentPub = (JSON.parse(readFileSync(join(dir, 'agent.key'), 'utf8')) as { publicKey: string }).publicKey;
    const issued = await cli(
      'issue',
      '--key',
      'auth.key',
      '--sub',
      'agent:support',
      '--holder',
      agentPub,
      '--grant',
      'database://users/*:read,write',
      '--grant',
      'mail://acme.example/*:send',
      '--ttl',
      '1h',
      '--max-depth',
      '2',
      '--out',
      'root.tok',
    );
    assert.equal(issued.code, 0, issued.stderr);
    assert.equal(issued.stdout, '');
    const rootText = readFileSync(join(dir, 'root.tok'), 'utf8');
    assert.match(rootText, /^cft1\.[A-Za-z0-9_-]+\n$/);

    const [child, widened] = await Promise.all([
      cli(
        'delegate',
        '--token',
        'root.tok',
        '--key',
        'agent.key',
        '--to',
        'sum.pub',
        '--sub',
        'agent:summarizer',
        '--grant',
        'database://users/*:read',
        '--constraint',
        'limit=range:1..50',
        '--ttl',
        '10m',
        '--out',
        'child.tok',
      ),
      // wider than the parent: refused at delegation time
      cli(
        'delegate',
        '--token',
        'root.tok',
        '--key',
        'agent.key',
        '--to',
        'sum.pub',
        '--sub',
        'agent:greedy',
        '--grant',
        'database://**:read,write,delete',
        '--ttl',
        '10m',
      ),
    ]);
    assert.equal(child.code, 0, child.stderr);
    assert.equal(child.stderr, '');
    assert.equal(widened.code, 1);
    assert.match(oneErrorLine(widened), /^ERR_ATTENUATION: /);
    assert.equal(widened.stdout, '');

    const inv = await cli(
      'invoke',
      '--token',
      'child.tok',
      '--key',
      'sum.key',
      '--tool',
      'query_db',
      '--op',
      'read',
      '--resource',
      'database://users/accounts',
      '--args',
      ARGS,
      '--call-id',
      'call-1',
      '--out',
      'call.inv',
    );
    assert.equal(inv.code, 0, inv.stderr);
    assert.match(readFileSync(join(dir, 'call.inv'), 'utf8'), /^cfi1\.[A-Za-z0-9_-]+\n$/);

    const base = ['verify', '--token', 'child.tok', '--invocation', 'call.inv'];
    const [ok, wrongTool, wrongArgs, untrusted, human, pubFile] = await Promise.all([
      cli(...base, '--trust', authPub, '--tool', 'query_db', '--args', ARGS, '--json'),
      cli(...base, '--trust', 'auth.pub', '--tool', 'drop_table', '--args', ARGS, '--json'),
      cli(...base, '--trust', 'auth.pub', '--tool', 'query_db', '--args', '{"table":"accounts","limit":11}', '--json'),
      cli(...base, '--trust', 'other.pub', '--tool', 'query_db', '--args', ARGS, '--json'),
      cli(...base, '--trust', 'auth.pub', '--tool', 'drop_table', '--args', ARGS),
      cli(...base, '--trust', 'auth.pub', '--tool', 'query_db', '--args', ARGS),
    ]);
    assert.equal(pubFile.code, 0, pubFile.stderr);
    assert.match(pubFile.stdout, /^allowed: agent:summarizer may read database:\/\/users\/accounts/);

    assert.equal(ok.code, 0, ok.stderr);
    const d = JSON.parse(ok.stdout) as Record<string, unknown>;
    assert.equal(d.allowed, true);
    assert.equal(d.subject, 'agent:summarizer');
    assert.equal(d.tool, 'query_db');
    assert.equal(d.operation, 'read');
    assert.equal(d.resource, 'database://users/accounts');
    assert.equal(d.callId, 'call-1');
    assert.equal(d.mode, 'signed');
    assert.equal((d.chainIds as string[]).length, 2);
    assert.match(d.argsDigest as string, /^[0-9a-f]{64}$/);
    assert.deepEqual((d.grant as { permissions: string[] }).permissions, ['read']);
    assert.deepEqual((d.grant as { constraints: unknown }).constraints, { limit: [{ type: 'range', min: 1, max: 50 }] });
    assert.equal(typeof d.expiresAt, 'number');
    assert.ok(!ok.stdout.includes('cft1.') && !ok.stdout.includes('cfi1.') && !ok.stdout.includes('"table"'), 'verify output leaks token, proof or args');

    for (const [r, code] of [
      [wrongTool, 'ERR_INVOCATION_MISMATCH'],
      [wrongArgs, 'ERR_INVOCATION_MISMATCH'],
      [untrusted, 'ERR_UNKNOWN_KEY'],
    ] as const) {
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const j = JSON.parse(r.stdout) as Record<string, unknown>;
      assert.equal(j.allowed, false);
      assert.equal(j.code, code);
      assert.equal(typeof j.reason, 'string');
      assert.ok(!('error' in j) && !('grant' in j));
    }
    assert.match((JSON.parse(wrongTool.stdout) as { reason: string }).reason, /drop_table/);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /^denied: ERR_INVOCATION_MISMATCH: .+\n$/);
  });

  test('token and proof files are credentials: written 0600, also over an existing 0644 file', async () => {
    for (const f of ['root.tok', 'child.tok', 'call.inv']) assert.equal(mode(f), 0o600, f);
    for (const f of ['again.tok', 'again.inv']) {
      writeFileSync(join(dir, f), 'old\n');
      chmodSync(join(dir, f), 0o644);
    }
    const issued = await cli(
      'issue',
      '--key',
      'auth.key',
      '--sub',
      'agent:support',
      '--holder',
      'agent.pub',
      '--grant',
      'database://users/*:read',
      '--ttl',
      '1h',
      '--out',
      'again.tok',
    );
    assert.equal(issued.code, 0, issued.stderr);
    const inv = await cli(
      'invoke',
      '--token',
      'again.tok',
      '--key',
      'agent.key',
      '--tool',
      'query_db',
      '--op',
      'read',
      '--resource',
      'database://users/accounts',
      '--args',
      ARGS,
      '--out',
      'again.inv',
    );
    assert.equal(inv.code, 0, inv.stderr);
    for (const f of ['again.tok', 'again.inv']) assert.equal(mode(f), 0o600, f);
    assert.match(readFileSync(join(dir, 'again.tok'), 'utf8'), /^cft1\./);
    // no temporary file is left beside the outputs
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.tmp')),
      [],
    );
  });

  test('--trust refuses a private key file and names its .pub; --holder and --to warn', async () => {
    rmSync(join(dir, 'plain.pub')); // an older key, made before keygen wrote NAME.pub
    const base = ['verify', '--token', 'child.tok', '--invocation', 'call.inv', '--tool', 'query_db', '--args', ARGS];
    const [withPub, noPub, holder] = await Promise.all([
      cli(...base, '--trust', 'auth.key'),
      cli(...base, '--trust', 'plain'),
      cli('issue', '--key', 'auth.key', '--sub', 'agent:support', '--holder', 'agent.key', '--grant', 'database://users/*:read', '--ttl', '1h'),
    ]);
    assert.equal(withPub.code, 2);
    assert.equal(withPub.stdout, '');
    assert.match(oneErrorLine(withPub), /--trust "auth\.key" is a private key file.*"auth\.pub"/);
    assert.equal(noPub.code, 2);
    assert.match(oneErrorLine(noPub), /--trust "plain" is a private key file.*capframe pubkey "plain"/);
    assert.equal(holder.code, 0, holder.stderr);
    assert.match(holder.stdout, /^cft1\./);
    assert.match(oneErrorLine(holder), /^warning: --holder "agent\.key" is a private key file; only its public key is used\. .*"agent\.pub"/);
  });

  test('inspect prints the decoded chain as text and as JSON, without secrets', async () => {
    const [text, json] = await Promise.all([cli('inspect', 'child.tok'), cli('inspect', 'child.tok', '--json')]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /\[0\] root/);
    assert.match(text.stdout, /\[1\] delegation/);
    assert.match(text.stdout, /agent:support/);
    assert.match(text.stdout, /agent:summarizer/);
    assert.match(text.stdout, /database:\/\/users\/\*:read,write/);
    assert.match(text.stdout, /where limit=range:1\.\.50/);
    assert.match(text.stdout, /NOT verified/);
    assert.equal(json.code, 0, json.stderr);
    const v = JSON.parse(json.stdout) as {
      verified: boolean;
      blocks: { kind: string; subject: string; maxDepth: number; grants: { resource: string; permissions: string[]; constraints?: unknown }[] }[];
    };
    assert.equal(v.verified, false);
    assert.deepEqual(
      v.blocks.map((b) => [b.kind, b.subject, b.maxDepth]),
      [
        ['root', 'agent:support', 2],
        ['delegation', 'agent:summarizer', 1],
      ],
    );
    assert.deepEqual(v.blocks[1]!.grants, [
      { resource: 'database://users/*', permissions: ['read'], constraints: { limit: { type: 'range', min: 1, max: 50 } } },
    ]);
    assert.ok(!json.stdout.includes('cft1.'));
  });

  test('usage errors exit 2 with one line on stderr', async () => {
    const rs = await Promise.all([
      cli('issue', '--bogus', 'x'),
      cli('issue', '--key', 'auth.key', '--sub', 'a', '--holder', authPub, '--ttl', '1h'),
      cli('invoke', '--token', 'child.tok', '--key', 'sum.key', '--tool', 't', '--op', 'read', '--resource', 'database://users/x', '--args', '{not json'),
      cli('frobnicate'),
      cli(),
    ]);
    const expected = [
      /unknown option --bogus/,
      /at least one --grant is required/,
      /--args is not valid JSON/,
      /unknown command 'frobnicate'/,
      /missing command/,
    ];
    rs.forEach((r, i) => {
      assert.equal(r.code, 2, `case ${i}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(oneErrorLine(r), expected[i]!);
    });
  });

  test('--help works for capframe and every command', async () => {
    const names = ['keygen', 'pubkey', 'issue', 'delegate', 'invoke', 'verify', 'inspect'];
    const [top, ...rs] = await Promise.all([cli('--help'), ...names.map((n) => cli(n, '--help'))]);
    assert.equal(top!.code, 0);
    for (const n of names) assert.match(top!.stdout, new RegExp(`^  ${n} `, 'm'));
    rs.forEach((r, i) => {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage: capframe ${names[i]}`));
      assert.equal(r.stderr, '');
    });
  });
});
