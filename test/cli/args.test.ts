/** The CLI's parsers and dispatcher, in process (no child processes). */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatConstraint, parseConstraint, parseConstraints, parseGrant, parseGrants } from '../../src/cli/grants.ts';
import { parseFlags, parseJsonArgs, UsageError } from '../../src/cli/args.ts';
import { findCommand, main } from '../../src/cli/main.ts';
import type { Command, Io } from '../../src/cli/command.ts';
import type { Constraint } from '../../src/token/constraints.ts';

const usage = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof UsageError && re.test(e.message));

describe('--grant', () => {
  test('splits on the last colon and trims permissions', () => {
    assert.deepEqual(parseGrant('database://users/*:read, query'), { resource: 'database://users/*', permissions: ['read', 'query'] });
    assert.deepEqual(parseGrant('https://api.example:8443/v1/**:get'), { resource: 'https://api.example:8443/v1/**', permissions: ['get'] });
  });
  test('a grant without permissions is a usage error', () => {
    usage(() => parseGrant('database://users/*'), /RESOURCE:perm1,perm2/);
    usage(() => parseGrant('database://users/*:'), /RESOURCE:perm1,perm2/);
    usage(() => parseGrant(':read'), /RESOURCE:perm1,perm2/);
  });
  test('constraints apply to every grant', () => {
    const gs = parseGrants(['a://x/*:read', 'b://y/*:write'], ['n=range:1..5']);
    assert.deepEqual(
      gs.map((g) => g.constraints),
      [{ n: { type: 'range', min: 1, max: 5 } }, { n: { type: 'range', min: 1, max: 5 } }],
    );
  });
});

describe('--constraint', () => {
  test('every kind', () => {
    assert.deepEqual(parseConstraint('n=exact:42'), ['n', { type: 'exact', value: 42 }]);
    assert.deepEqual(parseConstraint('s=exact:"42"'), ['s', { type: 'exact', value: '42' }]);
    assert.deepEqual(parseConstraint('b=exact:true'), ['b', { type: 'exact', value: true }]);
    assert.deepEqual(parseConstraint('u=exact:https://x.example/a'), ['u', { type: 'exact', value: 'https://x.example/a' }]);
    assert.deepEqual(parseConstraint('m=oneOf:a, b,3,null'), ['m', { type: 'oneOf', values: ['a', 'b', 3, null] }]);
    assert.deepEqual(parseConstraint('m=oneOf:["a,b","c"]'), ['m', { type: 'oneOf', values: ['a,b', 'c'] }]);
    assert.deepEqual(parseConstraint('n=range:..10'), ['n', { type: 'range', max: 10 }]);
    assert.deepEqual(parseConstraint('n=range:-5..'), ['n', { type: 'range', min: -5 }]);
    assert.deepEqual(parseConstraint('to=glob:*@acme.example'), ['to', { type: 'glob', pattern: '*@acme.example' }]);
    assert.deepEqual(parseConstraint('q=prefix:SELECT :x'), ['q', { type: 'prefix', prefix: 'SELECT :x' }]);
    assert.deepEqual(parseConstraint('path=under:/srv/data'), ['path', { type: 'pathUnder', path: '/srv/data' }]);
  });
  test('bad constraints are usage errors', () => {
    usage(() => parseConstraint('n:range:1..2'), /ARG=KIND:VALUE/);
    usage(() => parseConstraint('n=between:1..2'), /unknown kind/);
    usage(() => parseConstraint('n=range:1-2'), /MIN\.\.MAX/);
    usage(() => parseConstraint('n=range:..'), /MIN, MAX or both/);
    usage(() => parseConstraint('n=range:9..1'), /greater than MAX/);
    usage(() => parseConstraint('n=range:1.5..2'), /whole numbers/);
    usage(() => parseConstraint('m=oneOf:[{"a":1}]'), /oneOf values/);
    usage(() => parseConstraints(['n=exact:1', 'n=exact:2']), /constrained twice/);
  });
  test('inspect prints constraints in the syntax --constraint reads', () => {
    const cases: Constraint[] = [
      { type: 'exact', value: 42 },
      { type: 'exact', value: '42' },
      { type: 'exact', value: 'plain' },
      { type: 'exact', value: null },
      { type: 'oneOf', values: ['a', 1, true] },
      { type: 'oneOf', values: ['a,b', 'c'] },
      { type: 'range', min: 1 },
      { type: 'range', min: 1, max: 2 },
      { type: 'glob', pattern: '*.md' },
      { type: 'prefix', prefix: 'x:' },
      { type: 'pathUnder', path: '/srv' },
    ];
    for (const c of cases) assert.deepEqual(parseConstraint(formatConstraint('arg', c)), ['arg', c]);
  });
});

describe('flags', () => {
  const specs = { out: { type: 'string' }, grant: { type: 'string', multiple: true }, json: { type: 'boolean' } } as const;
  test('strict: unknown, missing values, repeated single flags and stray arguments are usage errors', () => {
    usage(() => parseFlags(['--nope'], specs), /^unknown option --nope$/);
    usage(() => parseFlags(['--out'], specs), /^--out needs a value$/);
    usage(() => parseFlags(['--out', 'a', '--out', 'b'], specs), /--out is given more than once/);
    usage(() => parseFlags(['stray'], specs), /unexpected argument 'stray'/);
    usage(() => parseFlags(['--json=yes'], specs), /--json does not take a value/);
  });
  test('repeatable flags collect every value', () => {
    const f = parseFlags(['--grant', 'a', '--grant', 'b', '--json'], specs);
    assert.deepEqual(f.list('grant'), ['a', 'b']);
    assert.equal(f.bool('json'), true);
    assert.equal(f.string('out'), undefined);
    usage(() => f.required('out'), /--out is required/);
  });
  test('--args must be a JSON object and errors never echo it', () => {
    assert.deepEqual(parseJsonArgs('args', '{"a":1}'), { a: 1 });
    usage(() => parseJsonArgs('args', '{"secret": oops'), /^--args is not valid JSON$/);
    usage(() => parseJsonArgs('args', '[1]'), /JSON object/);
  });
});

class MemoryIo implements Io {
  out = '';
  err = '';
  readonly env = {};
  constructor(readonly cwd: string) {}
  stdout(t: string) {
    this.out += t;
  }
  stderr(t: string) {
    this.err += t;
  }
}

describe('dispatcher', () => {
  const cmd = (name: string): Command => ({
    name,
    summary: name,
    usage: `Usage: capframe ${name}`,
    run: async (argv, io) => {
      io.stdout(`${name}|${argv.join(' ')}\n`);
      return 0;
    },
  });
  const table = [cmd('audit'), cmd('audit verify'), cmd('revocations export')];

  test('two-word commands: the longest name wins', async () => {
    assert.equal(findCommand(['audit', 'verify', 'f.log'], table)?.command.name, 'audit verify');
    assert.deepEqual(findCommand(['audit', 'verify', 'f.log'], table)?.rest, ['f.log']);
    assert.equal(findCommand(['audit', 'x'], table)?.command.name, 'audit');
    const io = new MemoryIo(tmpdir());
    assert.equal(await main(['revocations', 'export', '--out', 'x'], io, table), 0);
    assert.equal(io.out, 'revocations export|--out x\n');
    const help = new MemoryIo(tmpdir());
    assert.equal(await main(['revocations', 'export', '--help'], help, table), 0);
    assert.equal(help.out, 'Usage: capframe revocations export\n');
    const bad = new MemoryIo(tmpdir());
    assert.equal(await main(['revocations'], bad, table), 2);
    assert.match(bad.err, /did you mean 'revocations export'\?\n$/);
  });
});

describe('commands in process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-cli-inproc-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (...argv: string[]) => {
    const io = new MemoryIo(dir);
    const code = await main(argv, io);
    return { code, out: io.out, err: io.err };
  };

  test('constraints are enforced end to end; trust files may list several keys; --revocations fails closed', async () => {
    const auth = JSON.parse((await run('keygen', '--out', 'auth.key')).out) as { publicKey: string };
    const agent = JSON.parse((await run('keygen', '--out', 'agent.key')).out) as { publicKey: string };
    const other = JSON.parse((await run('keygen', '--out', 'other.key')).out) as { publicKey: string };
    writeFileSync(join(dir, 'trusted.txt'), `# authorities\n${other.publicKey}\n\n${auth.publicKey}\n`);
    writeFileSync(join(dir, 'agent.pub'), JSON.stringify(agent) + '\n');
    const issued = await run(
      'issue',
      '--key',
      'auth.key',
      '--sub',
      'agent:files',
      '--holder',
      'agent.pub',
      '--grant',
      'file://srv/**:read',
      '--constraint',
      'path=under:/srv/data',
      '--constraint',
      'limit=range:..100',
      '--ttl',
      '5m',
    );
    assert.equal(issued.code, 0, issued.err);
    const token = issued.out.trim();
    const call = (args: object) =>
      run(
        'invoke',
        '--token',
        token,
        '--key',
        'agent.key',
        '--tool',
        'read_file',
        '--op',
        'read',
        '--resource',
        'file://srv/data/a.txt',
        '--args',
        JSON.stringify(args),
      );
    const verify = (proof: string, args: object, ...extra: string[]) =>
      run(
        'verify',
        '--token',
        token,
        '--invocation',
        proof,
        '--trust',
        'trusted.txt',
        '--tool',
        'read_file',
        '--args',
        JSON.stringify(args),
        '--json',
        ...extra,
      );

    const good = { path: '/srv/data/a.txt', limit: 10 };
    const okProof = (await call(good)).out.trim();
    const ok = await verify(okProof, good, '--op', 'read', '--resource', 'file://srv/data/a.txt', '--skew', '5');
    assert.equal(ok.code, 0, ok.out + ok.err);
    assert.equal((JSON.parse(ok.out) as { allowed: boolean }).allowed, true);

    const escape = { path: '/srv/data/../../etc/passwd', limit: 10 };
    const bad = await verify((await call(escape)).out.trim(), escape);
    assert.equal(bad.code, 1);
    assert.equal((JSON.parse(bad.out) as { code: string }).code, 'ERR_CONSTRAINT');

    const wrongOp = await verify(okProof, good, '--op', 'write');
    assert.equal((JSON.parse(wrongOp.out) as { code: string }).code, 'ERR_INVOCATION_MISMATCH');

    writeFileSync(join(dir, 'snapshot.bin'), 'not a snapshot');
    const rev = await verify(okProof, good, '--revocations', 'snapshot.bin');
    assert.equal(rev.code, 1);
    assert.ok(!rev.out.includes('"allowed":true'));
    assert.equal(rev.err.trim().split('\n').length, 1);

    // private key files are refused where a public key file is needed the other way round, clearly
    const wrongKey = await run('invoke', '--token', token, '--key', 'agent.pub', '--tool', 't', '--op', 'read', '--resource', 'file://srv/x', '--args', '{}');
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.err, /^ERR_MALFORMED: --key "agent.pub": holds a public key/);
    // keygen --force replaces a key, still 0600
    const replaced = await run('keygen', '--out', 'other.key', '--force');
    assert.equal(replaced.code, 0);
    assert.notEqual((JSON.parse(replaced.out) as { publicKey: string }).publicKey, other.publicKey);
    assert.match(readFileSync(join(dir, 'other.key'), 'utf8'), /"type": "capframe-ed25519-private-key"/);
  });
});

test('v1.1 grant syntax: --tools, --closed, argument paths and the new kinds go through the token validator', async () => {
  const { parseGrants, parseConstraint } = await import('../../src/cli/grants.ts');
  const { UsageError } = await import('../../src/cli/args.ts');
  const [g] = parseGrants(
    ['bank://accounts/me:transfer'],
    ['amount=decimal:0.01..10.5', 'participants[]=regex:[a-z]+@acme\\.example', 'link=urlSafe:'],
    ['send_money', 'a,b'],
    true,
  );
  assert.deepEqual(g!.tools, ['send_money', 'a', 'b']);
  assert.equal(g!.closed, true);
  assert.deepEqual(g!.constraints!.amount, { type: 'decimal', min: '0.01', max: '10.5' });
  assert.equal(g!.constraints!['participants[]']!.type, 'regex');
  assert.deepEqual(parseConstraint('to=json:{"type":"each","constraint":{"type":"glob","pattern":"*@acme.example"}}')[1].type, 'each');
  assert.deepEqual(parseConstraint('ip=cidr:10.0.0.0/8')[1], { type: 'cidr', cidr: '10.0.0.0/8' });
  for (const bad of ['amount=decimal:10.50..', 'r=regex:(a)\\1', 'ip=cidr:10.0.0.1/8', 'n=length:x..2', 'u=url:{"port":0}']) {
    assert.throws(() => parseConstraint(bad), UsageError, bad);
  }
});
