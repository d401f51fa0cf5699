/**
 * capframe/deepagents with real createDeepAgent loops driven by fakeModel():
 * the `task` tool delegates a narrowed token to a fresh key, the sub-agent
 * runs on it alone, its denied calls come back as error ToolMessages, a
 * sub-agent type without an entry (general-purpose included) is denied, and
 * the built-in file tools are scoped by path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDeepAgent } from 'deepagents';
import { AIMessage, createMiddleware, fakeModel, tool, ToolMessage } from 'langchain';
import { z } from 'zod';
import { generateKey, issueToken, type PrivateKey, type Token } from '../../src/index.ts';
import { decodeChain } from '../../src/token/chain.ts';
import { Guard, memorySink, parseConfig, type CapframeConfig } from '../../src/langchain/index.ts';
import { guardDeepAgent, type Delegation } from '../../src/deepagents/index.ts';

const authority = generateKey();
const leadKey = generateKey();

function leadToken(opts: { ttl?: string; permissions?: string[]; maxDepth?: number } = {}): Token {
  return issueToken({
    key: authority,
    subject: 'agent:lead',
    holder: leadKey.publicKey,
    grants: [
      { resource: 'files://**', permissions: opts.permissions ?? ['read', 'write'] },
      { resource: 'web://docs/*', permissions: ['read'] },
    ],
    ttl: opts.ttl ?? '1h',
    maxDepth: opts.maxDepth ?? 2,
  });
}

const TRUST = `trust:\n  authorities: [${'cfk1.' + Buffer.from(authority.publicKey).toString('base64url')}]\n`;
const SUBAGENTS = `
subagents:
  research:
    permissions: [read]
    ttl: 10m
  summarizer:
    grants:
      - resource: 'files://reports/**'
        permissions: [read]
  writer:
    permissions: [read, write]
    grants:
      - { resource: 'files://drafts/**', permissions: [write] }
      - { resource: 'files://reports/**', permissions: [read] }
`;

function setup(extra = '') {
  const config: CapframeConfig = parseConfig(TRUST + SUBAGENTS + extra, { file: 'deep.yaml' });
  const sink = memorySink();
  const guard = new Guard({ config, sink });
  const delegations: Delegation[] = [];
  return { config, guard, sink, delegations, onDelegate: (d: Delegation) => delegations.push(d) };
}

/** A middleware that records the ToolMessages an agent receives (put before capframe's: it sees the denials). */
function recorder(into: ToolMessage[]) {
  return createMiddleware({
    name: 'recorder',
    wrapToolCall: async (request, handler) => {
      const r = await handler(request);
      if (ToolMessage.isInstance(r)) into.push(r);
      // A file write returns a Command whose update carries the ToolMessage.
      else for (const m of (r as { update?: { messages?: unknown[] } }).update?.messages ?? []) if (ToolMessage.isInstance(m)) into.push(m);
      return r;
    },
  });
}

/** A ToolMessage's text (read_file answers with content blocks). */
function textOf(m: ToolMessage): string {
  return typeof m.content === 'string' ? m.content : JSON.stringify(m.content);
}

function codeOf(m: ToolMessage): string {
  if (m.status !== 'error') return 'OK';
  return (m.artifact as { capframe?: { code: string } } | undefined)?.capframe?.code ?? 'TOOL_ERROR';
}

const FILES = {
  '/reports/q3.md': { content: ['Q3 revenue up'], created_at: '2026-01-01T00:00:00Z', modified_at: '2026-01-01T00:00:00Z' },
  '/reports/2025/q4.md': { content: ['Q4 2025'], created_at: '2026-01-01T00:00:00Z', modified_at: '2026-01-01T00:00:00Z' },
  '/secrets/api-key.txt': { content: ['sk-live-123'], created_at: '2026-01-01T00:00:00Z', modified_at: '2026-01-01T00:00:00Z' },
};

function input(text: string) {
  return { messages: [{ role: 'user', content: text }], files: FILES } as never;
}

function creds(token: Token, holderKey: PrivateKey | null = leadKey) {
  return { configurable: { capframe: { token, ...(holderKey ? { holderKey } : {}) } }, recursionLimit: 100 };
}

type Msg = { getType(): string; content: unknown };
const toolMessages = (out: { messages: Msg[] }) => out.messages.filter((m) => m.getType() === 'tool') as unknown as ToolMessage[];
const last = (out: { messages: Msg[] }) => String(out.messages[out.messages.length - 1]!.content);

test('task: the sub-agent runs on a child token for a fresh key (narrower, shorter) and never sees the parent token or key', async () => {
  const { config, guard, delegations, onDelegate } = setup();
  const parent = leadToken();
  const seen: Record<string, unknown>[] = [];
  const probe = tool(
    async (_args, cfg) => {
      seen.push(cfg as Record<string, unknown>);
      return 'probed';
    },
    { name: 'probe', description: 'probe', schema: z.object({ page: z.string() }) },
  );
  guard.addPolicy('probe', { resource: 'web://docs/{page}', operation: 'read' });
  const sub = fakeModel()
    .respondWithTools([{ name: 'probe', args: { page: 'intro' } }])
    .respond(new AIMessage('research done'));
  const lead = fakeModel()
    .respondWithTools([{ name: 'task', args: { subagent_type: 'research', description: 'find the Q3 numbers' } }])
    .respond(new AIMessage('all done'));
  const agent = createDeepAgent(
    guardDeepAgent(
      { model: lead, tools: [], subagents: [{ name: 'research', description: 'reads', systemPrompt: 'research', model: sub, tools: [probe] }] },
      { guard, config, onDelegate },
    ),
  );
  const before = Math.floor(Date.now() / 1000);
  // The parent's credentials in both places a run may carry them.
  const out = await agent.invoke(input('go'), { ...creds(parent), context: { capframe: { token: parent.toString(), holderKey: leadKey }, userId: 'u1' } });
  assert.equal(last(out), 'all done');
  assert.deepEqual(
    toolMessages(out).map((m) => [m.name, String(m.content)]),
    [['task', 'research done']],
  );

  // The child token, decoded.
  assert.equal(delegations.length, 1);
  const d = delegations[0]!;
  assert.equal(d.subagent, 'research');
  const pc = decodeChain(parent);
  const cc = decodeChain(d.token);
  assert.equal(cc.blocks.length, pc.blocks.length + 1);
  assert.deepEqual(cc.ids.slice(0, pc.ids.length), pc.ids, 'the child extends the parent chain');
  const childBlock = cc.blocks.at(-1)!;
  assert.equal(cc.subject, 'subagent:research');
  assert.deepEqual(
    childBlock.grants.map((g) => [g.resource, [...g.permissions]]),
    [
      ['files://**', ['read']],
      ['web://docs/*', ['read']],
    ],
    'read only: write is gone',
  );
  assert.ok(cc.exp < pc.exp, 'shorter expiry');
  assert.ok(cc.exp <= before + 600 + 5 && cc.exp >= before + 600 - 60, `expiry about 10 minutes from now (${cc.exp - before}s)`);
  assert.equal(childBlock.maxDepth, 0);
  assert.ok(Buffer.from(cc.holder).equals(Buffer.from(d.holder)), 'holder = the fresh key');
  assert.ok(!Buffer.from(cc.holder).equals(Buffer.from(leadKey.publicKey)), 'not the parent key');

  // What the sub-agent's tool got: the child's credentials only.
  assert.equal(seen.length, 1);
  const cfg = seen[0]! as { configurable: { capframe: { token: Token; holderKey: PrivateKey; decision: { subject: string } } } };
  assert.equal(cfg.configurable.capframe.token, d.token);
  assert.ok(Buffer.from(cfg.configurable.capframe.holderKey.publicKey).equals(Buffer.from(d.holder)));
  assert.equal(cfg.configurable.capframe.decision.subject, 'subagent:research');
  // Deep scan of everything the sub-agent's tool could reach through its config.
  const parentText = parent.toString();
  const hits: string[] = [];
  const visited = new Set<unknown>();
  const scan = (v: unknown, path: string, depth: number): void => {
    if (depth > 14 || v === null || v === undefined) return;
    if (typeof v === 'string') {
      if (v.includes(parentText.slice(5, 60))) hits.push(path);
      return;
    }
    if (typeof v !== 'object' && typeof v !== 'function') return;
    if (visited.has(v)) return;
    visited.add(v);
    if (v === parent || v === leadKey) return void hits.push(path);
    if (v instanceof Uint8Array) {
      const b = Buffer.from(v);
      if (b.equals(Buffer.from(parent.bytes)) || b.equals(Buffer.from(leadKey.seed))) hits.push(path);
      return;
    }
    let keys: string[];
    try {
      keys = Object.keys(v);
    } catch {
      return;
    }
    for (const k of keys) {
      try {
        scan((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1);
      } catch {
        /* getters */
      }
    }
  };
  scan(cfg, 'config', 0);
  assert.deepEqual(hits, []);
  // Control: the scan finds the parent's token text, token and key where they are.
  scan({ a: [{ t: parent.toString() }], k: { seed: new Uint8Array(leadKey.seed) }, p: parent }, 'control', 0);
  assert.deepEqual(hits, ['control.a.0.t', 'control.k.seed', 'control.p']);
  assert.equal((cfg as unknown as { context: { userId: string } }).context.userId, 'u1', 'other context entries pass through');
});

test("a sub-agent's denied calls come back to it as error ToolMessages and its run goes on", async () => {
  const { config, guard, sink, onDelegate } = setup();
  const subSaw: ToolMessage[] = [];
  const sub = fakeModel()
    .respondWithTools([{ name: 'write_file', args: { file_path: '/reports/q3.md', content: 'tampered' } }])
    .respondWithTools([{ name: 'read_file', args: { file_path: '/reports/q3.md' } }])
    .respond(new AIMessage('research done after a denial'));
  const lead = fakeModel()
    .respondWithTools([{ name: 'task', args: { subagent_type: 'research', description: 'look' } }])
    .respond(new AIMessage('all done'));
  const agent = createDeepAgent(
    guardDeepAgent(
      {
        model: lead,
        tools: [],
        subagents: [{ name: 'research', description: 'reads', systemPrompt: 'research', model: sub, middleware: [recorder(subSaw)] }],
      },
      { guard, config, onDelegate },
    ),
  );
  const out = await agent.invoke(input('go'), creds(leadToken()));
  assert.equal(last(out), 'all done');
  assert.equal(String(toolMessages(out)[0]!.content), 'research done after a denial');
  assert.deepEqual(
    subSaw.map((m) => [m.name, codeOf(m)]),
    [
      ['write_file', 'ERR_SCOPE_PERMISSION'],
      ['read_file', 'OK'],
    ],
  );
  assert.match(textOf(subSaw[0]!), /^Denied by capframe \(ERR_SCOPE_PERMISSION\)/);
  assert.match(textOf(subSaw[1]!), /Q3 revenue up/);
  // The file was not written: the state still has the original.
  const files = (out as unknown as { files: Record<string, { content: unknown }> }).files;
  assert.doesNotMatch(JSON.stringify(files['/reports/q3.md']), /tampered/);
  const writes = sink.events.filter((e) => e.tool === 'write_file');
  assert.deepEqual(
    writes.map((e) => [e.decision, e.code, e.resource, e.subject]),
    [['deny', 'ERR_SCOPE_PERMISSION', 'files://reports/q3.md', 'subagent:research']],
  );
});

test('general-purpose without an entry is denied (the run goes on); with an entry it runs guarded', async () => {
  {
    const { config, guard, sink, delegations, onDelegate } = setup();
    let gpRan = false;
    const lead = fakeModel()
      .respondWithTools([{ name: 'task', args: { subagent_type: 'general-purpose', description: 'do anything' } }])
      .respondWithTools([{ name: 'task', args: { subagent_type: 'nobody', description: 'x' } }])
      .respond(new AIMessage('lead carried on'));
    const spy = tool(
      async () => {
        gpRan = true;
        return 'x';
      },
      { name: 'spy', description: 'spy', schema: z.object({}) },
    );
    const agent = createDeepAgent(guardDeepAgent({ model: lead, tools: [spy] }, { guard, config, onDelegate }));
    const out = await agent.invoke(input('go'), creds(leadToken()));
    assert.equal(last(out), 'lead carried on');
    const msgs = toolMessages(out);
    assert.deepEqual(
      msgs.map((m) => [m.name, codeOf(m)]),
      [
        ['task', 'ERR_NO_SCHEMA'],
        ['task', 'ERR_NO_SCHEMA'],
      ],
    );
    assert.match(String(msgs[0]!.content), /no capframe entry for sub-agent type "general-purpose"/);
    assert.equal(delegations.length, 0);
    assert.equal(gpRan, false);
    assert.deepEqual(
      sink.events.map((e) => [e.tool, e.decision, e.code, e.resource]),
      [
        ['task', 'deny', 'ERR_NO_SCHEMA', 'subagent:general-purpose'],
        ['task', 'deny', 'ERR_NO_SCHEMA', 'subagent:nobody'],
      ],
    );
  }
  {
    // An explicit entry: general-purpose runs, read-only, with the middleware guarding its file tools.
    const { config, guard, delegations, onDelegate } = setup(`  general-purpose:\n    permissions: [read]\n    ttl: 5m\n`);
    const gpModel = fakeModel()
      .respondWithTools([{ name: 'write_file', args: { file_path: '/notes.md', content: 'x' } }])
      .respondWithTools([{ name: 'read_file', args: { file_path: '/reports/q3.md' } }])
      .respond(new AIMessage('gp done'));
    const lead = fakeModel()
      .respondWithTools([{ name: 'task', args: { subagent_type: 'general-purpose', description: 'read q3' } }])
      .respond(new AIMessage('lead done'));
    const agent = createDeepAgent(
      guardDeepAgent(
        { model: lead, tools: [], subagents: [{ name: 'general-purpose', description: 'gp', systemPrompt: 'gp', model: gpModel, middleware: [] }] },
        { guard, config, onDelegate },
      ),
    );
    const out = await agent.invoke(input('go'), creds(leadToken()));
    assert.equal(last(out), 'lead done');
    assert.equal(String(toolMessages(out)[0]!.content), 'gp done');
    assert.equal(delegations.length, 1);
    assert.equal(decodeChain(delegations[0]!.token).subject, 'subagent:general-purpose');
  }
});

test('general-purpose entry without a declared sub-agent: guardDeepAgent declares it with the middleware', async () => {
  const { config, guard, sink, onDelegate } = setup(`  general-purpose:\n    permissions: [read]\n`);
  // The declared general-purpose sub-agent uses the main model: one fake model plays both in turn.
  const model = fakeModel()
    .respondWithTools([{ name: 'task', args: { subagent_type: 'general-purpose', description: 'write notes' } }])
    .respondWithTools([{ name: 'write_file', args: { file_path: '/notes.md', content: 'x' } }])
    .respond(new AIMessage('gp could not write'))
    .respond(new AIMessage('lead done'));
  const agent = createDeepAgent(guardDeepAgent({ model, tools: [] }, { guard, config, onDelegate }));
  const out = await agent.invoke(input('go'), creds(leadToken()));
  assert.equal(last(out), 'lead done');
  assert.equal(String(toolMessages(out)[0]!.content), 'gp could not write');
  assert.deepEqual(
    sink.events.filter((e) => e.tool === 'write_file').map((e) => [e.code, e.subject]),
    [['ERR_SCOPE_PERMISSION', 'subagent:general-purpose']],
  );
});

test('summarizer: reads /reports/** and writes nothing; paths outside, relative or with .. are denied', async () => {
  const { config, guard, sink, onDelegate } = setup();
  const saw: ToolMessage[] = [];
  const calls = [
    { name: 'read_file', args: { file_path: '/reports/q3.md' } },
    { name: 'read_file', args: { file_path: '/reports/2025/q4.md' } },
    { name: 'grep', args: { pattern: 'Q', path: '/reports/' } },
    { name: 'glob', args: { pattern: '**/*.md', path: '/reports/2025' } },
    { name: 'read_file', args: { file_path: '/secrets/api-key.txt' } },
    { name: 'read_file', args: { file_path: '/reports/../secrets/api-key.txt' } },
    { name: 'read_file', args: { file_path: 'reports/q3.md' } },
    { name: 'ls', args: {} },
    { name: 'glob', args: { pattern: '../secrets/*', path: '/reports/2025' } },
    { name: 'write_file', args: { file_path: '/reports/summary.md', content: 's' } },
    { name: 'edit_file', args: { file_path: '/reports/q3.md', old_string: 'up', new_string: 'down' } },
    { name: 'write_file', args: { file_path: '/drafts/summary.md', content: 's' } },
  ];
  let sub = fakeModel();
  for (const c of calls) sub = sub.respondWithTools([c]);
  sub = sub.respond(new AIMessage('summary written nowhere'));
  const lead = fakeModel()
    .respondWithTools([{ name: 'task', args: { subagent_type: 'summarizer', description: 'summarize' } }])
    .respond(new AIMessage('done'));
  const agent = createDeepAgent(
    guardDeepAgent(
      { model: lead, tools: [], subagents: [{ name: 'summarizer', description: 's', systemPrompt: 's', model: sub, middleware: [recorder(saw)] }] },
      { guard, config, onDelegate },
    ),
  );
  const out = await agent.invoke(input('go'), creds(leadToken()));
  assert.equal(last(out), 'done');
  assert.deepEqual(
    saw.map((m) => [m.name, codeOf(m)]),
    [
      ['read_file', 'OK'],
      ['read_file', 'OK'],
      ['grep', 'OK'],
      ['glob', 'OK'],
      ['read_file', 'ERR_SCOPE_RESOURCE'],
      ['read_file', 'ERR_SCOPE_RESOURCE'],
      ['read_file', 'ERR_SCOPE_RESOURCE'],
      ['ls', 'ERR_SCOPE_RESOURCE'],
      ['glob', 'ERR_SCOPE_RESOURCE'],
      ['write_file', 'ERR_SCOPE_PERMISSION'],
      ['edit_file', 'ERR_SCOPE_PERMISSION'],
      ['write_file', 'ERR_SCOPE_RESOURCE'],
    ],
  );
  assert.match(textOf(saw[0]!), /Q3 revenue up/);
  assert.match(textOf(saw[2]!), /Q3 revenue up/);
  assert.match(textOf(saw[3]!), /q4\.md/);
  assert.ok(!saw.some((m) => /sk-live-123/.test(textOf(m))), 'the secret never reached the sub-agent');
  const ev = sink.events.filter((e) => e.tool !== 'task');
  assert.deepEqual(
    ev.slice(0, 4).map((e) => e.resource),
    ['files://reports/q3.md', 'files://reports/2025/q4.md', 'files://reports/~', 'files://reports/2025/~'],
  );
});

test('writer: may write only under /drafts/', async () => {
  const { config, guard, onDelegate } = setup();
  const saw: ToolMessage[] = [];
  const sub = fakeModel()
    .respondWithTools([{ name: 'write_file', args: { file_path: '/drafts/post.md', content: 'draft' } }])
    .respondWithTools([{ name: 'write_file', args: { file_path: '/reports/q3.md', content: 'overwrite' } }])
    .respondWithTools([{ name: 'read_file', args: { file_path: '/reports/q3.md' } }])
    .respondWithTools([{ name: 'read_file', args: { file_path: '/drafts/post.md' } }])
    .respond(new AIMessage('drafted'));
  const lead = fakeModel()
    .respondWithTools([{ name: 'task', args: { subagent_type: 'writer', description: 'draft' } }])
    .respond(new AIMessage('done'));
  const agent = createDeepAgent(
    guardDeepAgent(
      { model: lead, tools: [], subagents: [{ name: 'writer', description: 'w', systemPrompt: 'w', model: sub, middleware: [recorder(saw)] }] },
      { guard, config, onDelegate },
    ),
  );
  const out = await agent.invoke(input('go'), creds(leadToken()));
  assert.deepEqual(
    saw.map((m) => [m.name, codeOf(m)]),
    [
      ['write_file', 'OK'],
      ['write_file', 'ERR_SCOPE_PERMISSION'],
      ['read_file', 'OK'],
      ['read_file', 'ERR_SCOPE_PERMISSION'],
    ],
  );
  const files = (out as unknown as { files: Record<string, unknown> }).files;
  assert.ok(files['/drafts/post.md'], 'the draft was written');
  assert.doesNotMatch(JSON.stringify(files['/reports/q3.md']), /overwrite/);
});

test('task is denied, and the run goes on, without a holder key, without a token, or when the parent cannot give what the entry asks', async () => {
  const cases: { creds: Record<string, unknown>; code: string; reason: RegExp }[] = [
    { creds: creds(leadToken(), null), code: 'ERR_MISSING_TOKEN', reason: /holder key/ },
    { creds: { recursionLimit: 100 }, code: 'ERR_MISSING_TOKEN', reason: /no capframe token/ },
    // The parent holds only read: the writer's write grant is wider than the parent.
    { creds: creds(leadToken({ permissions: ['read'] })), code: 'ERR_ATTENUATION', reason: /cannot delegate to sub-agent "writer"/ },
    // The parent's token may not be delegated at all.
    { creds: creds(leadToken({ maxDepth: 0 })), code: 'ERR_DEPTH', reason: /may not be delegated further/ },
  ];
  for (const c of cases) {
    const { config, guard, delegations, onDelegate } = setup();
    const lead = fakeModel()
      .respondWithTools([{ name: 'task', args: { subagent_type: 'writer', description: 'draft' } }])
      .respond(new AIMessage('carried on'));
    const agent = createDeepAgent(
      guardDeepAgent(
        { model: lead, tools: [], subagents: [{ name: 'writer', description: 'w', systemPrompt: 'w', model: fakeModel().respond(new AIMessage('never')) }] },
        { guard, config, onDelegate },
      ),
    );
    const out = await agent.invoke(input('go'), c.creds as never);
    assert.equal(last(out), 'carried on');
    const [m] = toolMessages(out);
    assert.equal(codeOf(m!), c.code, String(m!.content));
    assert.match(String(m!.content), c.reason);
    assert.equal(delegations.length, 0);
  }
});

test("the child's expiry never passes the parent's: a parent that expires sooner bounds the ttl", async () => {
  const { config, guard, delegations, onDelegate } = setup();
  const parent = leadToken({ ttl: '2m' });
  const lead = fakeModel()
    .respondWithTools([{ name: 'task', args: { subagent_type: 'research', description: 'x' } }])
    .respond(new AIMessage('ok'));
  const agent = createDeepAgent(
    guardDeepAgent(
      { model: lead, tools: [], subagents: [{ name: 'research', description: 'r', systemPrompt: 'r', model: fakeModel().respond(new AIMessage('r')) }] },
      { guard, config, onDelegate },
    ),
  );
  await agent.invoke(input('go'), creds(parent));
  assert.equal(delegations.length, 1);
  assert.equal(decodeChain(delegations[0]!.token).exp, decodeChain(parent).exp);
});

test('a task policy in the config also checks the task call against the parent token', async () => {
  const { config, guard, delegations, onDelegate } = setup(`tools:\n  task:\n    resource: agents://lead/{subagent_type}\n    operation: delegate\n`);
  const parent = issueToken({
    key: authority,
    subject: 'agent:lead',
    holder: leadKey.publicKey,
    grants: [
      { resource: 'files://**', permissions: ['read', 'write'] },
      { resource: 'agents://lead/research', permissions: ['delegate'] },
    ],
    ttl: '1h',
    maxDepth: 2,
  });
  const lead = fakeModel()
    .respondWithTools([{ name: 'task', args: { subagent_type: 'writer', description: 'w' } }])
    .respondWithTools([{ name: 'task', args: { subagent_type: 'research', description: 'r' } }])
    .respond(new AIMessage('ok'));
  const subs = ['writer', 'research'].map((name) => ({
    name,
    description: name,
    systemPrompt: name,
    model: fakeModel().respond(new AIMessage(`${name} done`)),
  }));
  const agent = createDeepAgent(guardDeepAgent({ model: lead, tools: [], subagents: subs }, { guard, config, onDelegate }));
  const out = await agent.invoke(input('go'), creds(parent));
  assert.deepEqual(
    toolMessages(out).map((m) => [codeOf(m), textOf(m).slice(0, 40)]),
    [
      ['ERR_SCOPE_RESOURCE', textOf(toolMessages(out)[0]!).slice(0, 40)],
      ['OK', 'research done'],
    ],
  );
  assert.deepEqual(
    delegations.map((d) => d.subagent),
    ['research'],
  );
});

test('two task calls in one model turn: two delegations, each to its own fresh key', async () => {
  const { config, guard, delegations, onDelegate } = setup();
  const lead = fakeModel()
    .respondWithTools([
      { name: 'task', args: { subagent_type: 'research', description: 'r' } },
      { name: 'task', args: { subagent_type: 'summarizer', description: 's' } },
    ])
    .respond(new AIMessage('both done'));
  const subs = ['research', 'summarizer'].map((name) => ({
    name,
    description: name,
    systemPrompt: name,
    model: fakeModel().respond(new AIMessage(`${name} done`)),
  }));
  const agent = createDeepAgent(guardDeepAgent({ model: lead, tools: [], subagents: subs }, { guard, config, onDelegate }));
  const out = await agent.invoke(input('go'), creds(leadToken()));
  assert.equal(last(out), 'both done');
  assert.deepEqual(toolMessages(out).map(textOf).sort(), ['research done', 'summarizer done']);
  assert.deepEqual(delegations.map((d) => d.subagent).sort(), ['research', 'summarizer']);
  assert.ok(!Buffer.from(delegations[0]!.holder).equals(Buffer.from(delegations[1]!.holder)));
  assert.deepEqual(delegations.map((d) => decodeChain(d.token).subject).sort(), ['subagent:research', 'subagent:summarizer']);
});
