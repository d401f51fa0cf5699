/**
 * The guard checks the arguments the tool will act on (after its schema),
 * refuses arguments the schema rejects, and never reuses a parsed token for
 * a byte array whose contents changed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tool } from '@langchain/core/tools';
import type { ToolMessage } from '@langchain/core/messages';
import { z } from 'zod';
import { generateKey, issueToken, Verifier } from '../../src/index.ts';
import { Guard, guardTool } from '../../src/langchain/index.ts';

const auth = generateKey();
const agent = generateKey();
const issue = (perms: string[], subject: string, resource = 'tickets://acme/*') =>
  issueToken({ key: auth, subject, holder: agent.publicKey, grants: [{ resource, permissions: perms }], ttl: '1h' });
const newGuard = (policies: NonNullable<ConstructorParameters<typeof Guard>[0]>['policies']) =>
  new Guard({ verifier: new Verifier({ trusted: [auth.publicKey] }), sink: null, policies });
const codeOf = (m: unknown) => (m as ToolMessage & { artifact?: { capframe?: { code?: string } } }).artifact?.capframe?.code ?? 'OK';

test('a byte array reused for another token is parsed again: the narrower token applies', async () => {
  const wide = issue(['delete', 'read'], 'agent:a');
  const narrow = issue(['read'], 'agent:' + 'b'.repeat(1 + wide.bytes.length - issue(['read'], 'agent:b').bytes.length));
  assert.equal(wide.bytes.length, narrow.bytes.length);
  const del = guardTool(
    tool(async () => 'deleted', { name: 'del', description: 'd', schema: z.object({ id: z.string() }) }),
    newGuard({ del: { resource: 'tickets://acme/{id}', operation: 'delete' } }),
  );
  const buf = new Uint8Array(wide.bytes);
  const run = { configurable: { capframe: { token: buf } } };
  assert.equal(codeOf(await del.invoke({ name: 'del', args: { id: '1' }, id: 'g1-1', type: 'tool_call' }, run)), 'OK');
  buf.set(narrow.bytes);
  assert.equal(codeOf(await del.invoke({ name: 'del', args: { id: '2' }, id: 'g1-2', type: 'tool_call' }, run)), 'ERR_SCOPE_PERMISSION');
});

test('templates and constraints see the arguments after the tool schema (trim, NFKC): traversal is denied', async () => {
  const t = issue(['read'], 'agent:a', 'files://docs/*');
  let ran = 0;
  const read = guardTool(
    tool(
      async ({ name }) => {
        ran++;
        return `opened docs/${name}`;
      },
      { name: 'read_doc', description: 'd', schema: z.object({ name: z.string().trim().normalize('NFKC') }) },
    ),
    newGuard({ read_doc: { resource: 'files://docs/{name}', operation: 'read' } }),
  );
  for (const name of [' ..', '\uFF0E\uFF0E\uFF0Fsecret']) {
    const r = await read.invoke({ name: 'read_doc', args: { name }, id: `g2-${name}`, type: 'tool_call' }, { configurable: { capframe: { token: t } } });
    assert.equal(codeOf(r), 'ERR_SCOPE_RESOURCE', `${JSON.stringify(name)} must be denied`);
  }
  const ok = await read.invoke({ name: 'read_doc', args: { name: '  guide ' }, id: 'g2-ok', type: 'tool_call' }, { configurable: { capframe: { token: t } } });
  assert.equal(codeOf(ok), 'OK');
  assert.equal(ran, 1);
});

test('arguments the tool schema refuses are denied before any check, naming fields but not values', async () => {
  const t = issue(['send'], 'agent:a', 'mail://acme.example/*');
  let ran = 0;
  const send = guardTool(
    tool(
      async () => {
        ran++;
        return 'sent';
      },
      { name: 'send_email', description: 'd', schema: z.object({ to: z.email(), body: z.string() }) },
    ),
    newGuard({ send_email: { resource: 'mail://acme.example/outbound', operation: 'send', constraints: { to: { type: 'glob', pattern: '*@acme.example' } } } }),
  );
  const r = await send.invoke(
    { name: 'send_email', args: { to: 'audit@evil.example, bob@acme.example', body: 'x' }, id: 'g3', type: 'tool_call' },
    { configurable: { capframe: { token: t } } },
  );
  assert.equal(codeOf(r), 'ERR_INVALID_ARGUMENT');
  assert.match(String((r as ToolMessage).content), /arguments do not match the tool's schema \(to\)/);
  assert.doesNotMatch(String((r as ToolMessage).content), /evil/);
  assert.equal(ran, 0);
});

test('a schema with async refinements: checked asynchronously, a rejecting refinement is a denial, never a crash', async () => {
  const t = issue(['read'], 'agent:a');
  let ran = 0;
  const schema = z.object({
    id: z.string().refine(async (s) => {
      await new Promise((r) => setImmediate(r));
      if (s === 'boom') throw new TypeError('lookup failed');
      return s !== 'no';
    }),
  });
  const get = guardTool(
    tool(
      async ({ id }) => {
        ran++;
        return `ticket ${id}`;
      },
      { name: 'get', description: 'd', schema },
    ),
    newGuard({ get: { resource: 'tickets://acme/{id}', operation: 'read' } }),
  );
  const run = { configurable: { capframe: { token: t } } };
  const ok = (await get.invoke({ name: 'get', args: { id: '1' }, id: 'as-1', type: 'tool_call' }, run)) as ToolMessage;
  assert.equal(ok.content, 'ticket 1');
  assert.equal(codeOf(await get.invoke({ name: 'get', args: { id: 'no' }, id: 'as-2', type: 'tool_call' }, run)), 'ERR_INVALID_ARGUMENT');
  assert.equal(codeOf(await get.invoke({ name: 'get', args: { id: 'boom' }, id: 'as-3', type: 'tool_call' }, run)), 'ERR_INVALID_ARGUMENT');
  await new Promise((r) => setTimeout(r, 20)); // an unhandled rejection would fail the test run here
  assert.equal(ran, 1);
});

test('parseArguments: plain zod 4 schemas are parsed without a promise; any code of the schema author means async', async () => {
  const { parseArguments } = await import('../../src/langchain/arguments.ts');
  const plain = [
    z.object({ id: z.string().trim().min(1).normalize('NFKC'), n: z.number().int().optional(), tags: z.array(z.enum(['a', 'b'])).default([]) }),
    z.object({ u: z.union([z.literal(1), z.null()]), r: z.record(z.string(), z.unknown()), t: z.tuple([z.string()]).rest(z.number()) }).catchall(z.string()),
  ];
  const withCode = [
    z.object({ id: z.string().refine((s) => s.length > 0) }),
    z.object({ id: z.string() }).refine((o) => o.id !== 'x'),
    z.object({ id: z.string().transform((s) => s.toUpperCase()) }),
    z.object({ id: z.preprocess((v) => v, z.string()) }),
    z.object({ id: z.lazy(() => z.string()) }),
    z.object({ id: z.custom<string>((v) => typeof v === 'string') }),
    z.object({ id: z.string().catch(() => 'x') }),
    z.object({ nested: z.object({ deep: z.array(z.string().superRefine(() => {})) }) }),
  ];
  for (const s of plain) {
    const r = parseArguments(s, { id: ' a ', u: 1, r: {}, t: ['x', 1] });
    assert.ok(!(r instanceof Promise), 'plain schema parsed synchronously');
  }
  for (const s of withCode)
    assert.ok(parseArguments(s, { id: 'a', nested: { deep: ['a'] } }) instanceof Promise, 'schema with author code parsed asynchronously');
  const r = parseArguments(plain[0]!, { id: '  ｘ  ' });
  assert.deepEqual(r, { ok: true, args: { id: 'x', tags: [] } });
});
