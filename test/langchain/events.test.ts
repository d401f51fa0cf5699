import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Verifier } from '../../src/index.ts';
import { Guard, guardTools, jsonLinesSink, teeSink, memorySink } from '../../src/langchain/index.ts';
import { agentKey, config, makeTools, runAgent, supportToken } from './fixtures.ts';

test('the JSON-lines sink appends one event per line to a 0600 file; a failing sink never changes the decision', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capframe-events-'));
  try {
    const path = join(dir, 'decisions.jsonl');
    const file = jsonLinesSink({ path });
    const mem = memorySink();
    const broken = () => {
      throw new Error('sink down');
    };
    const rejecting = async () => {
      throw new Error('sink down');
    };
    const cfg = config();
    const guard = new Guard({ config: cfg, verifier: new Verifier({ trusted: cfg.trusted }), sink: teeSink(file, broken, rejecting, mem) });
    const msgs = await runAgent(
      guardTools(makeTools(), guard),
      [
        { name: 'get_ticket', args: { id: '1' } },
        { name: 'delete_ticket', args: { id: '1' } },
      ],
      { configurable: { capframe: { token: supportToken(), holderKey: agentKey } } },
    );
    assert.deepEqual(
      msgs.map((m) => m.status),
      ['success', 'error'],
    );
    file.close();
    const lines = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => [l.decision, l.code, l.tool]),
      [
        ['allow', 'OK', 'get_ticket'],
        ['deny', 'ERR_SCOPE_PERMISSION', 'delete_ticket'],
      ],
    );
    assert.equal(lines[0].reason, undefined);
    assert.deepEqual(Object.keys(lines[0]).sort(), [
      'argsDigest',
      'callId',
      'code',
      'decision',
      'mode',
      'operation',
      'resource',
      'subject',
      'tokenIds',
      'tool',
      'ts',
      'via',
    ]);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(mem.events.length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
