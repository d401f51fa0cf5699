/** Shared setup for the LangChain tests: keys, a token, tools, a config. */
import { AIMessage, createAgent, fakeModel, tool } from 'langchain';
import { z } from 'zod';
import { generateKey, issueToken, Verifier, type PrivateKey, type Token } from '../../src/index.ts';
import { Guard, memorySink, parseConfig, type CapframeConfig, type GuardOptions } from '../../src/langchain/index.ts';
import type { ToolMessage } from '@langchain/core/messages';

export const authority = generateKey();
export const agentKey = generateKey();

export function supportToken(opts: { ttl?: string; key?: PrivateKey } = {}): Token {
  return issueToken({
    key: authority,
    subject: 'agent:support',
    holder: (opts.key ?? agentKey).publicKey,
    grants: [
      { resource: 'tickets://acme/*', permissions: ['read', 'write'] },
      { resource: 'mail://acme.example/*', permissions: ['send'], constraints: { to: { type: 'glob', pattern: '*@acme.example' } } },
      { resource: 'files://docs/*', permissions: ['read'] },
    ],
    ttl: opts.ttl ?? '1h',
    maxDepth: 2,
  });
}

export const CONFIG_TEXT = `
trust:
  authorities:
    - ${'cfk1.' + Buffer.from(authority.publicKey).toString('base64url')}
audit:
  sink: none
tools:
  get_ticket:
    resource: tickets://acme/{id}
    operation: read
  get_org_ticket:
    resource: tickets://{org}/{id}
    operation: read
  update_ticket:
    resource: tickets://acme/{id}
    operation: write
  delete_ticket:
    resource: tickets://acme/{id}
    operation: delete
  send_email:
    resource: mail://acme.example/outbound
    operation: send
    constraints:
      subject:
        type: prefix
        prefix: "[acme]"
  send_signed:
    resource: mail://acme.example/outbound
    operation: send
    attested: true
  read_doc:
    resource: files://docs/{name}
    operation: read
`;

export function config(): CapframeConfig {
  return parseConfig(CONFIG_TEXT, { file: 'test.yaml' });
}

/** A log of what inner tools received, to assert on. */
export const seen: { tool: string; args: unknown; config: Record<string, any> }[] = [];

const ticket = (name: string, schema: z.ZodObject) =>
  tool(
    async (args, cfg) => {
      seen.push({ tool: name, args, config: cfg as Record<string, any> });
      return `${name} ok ${JSON.stringify(args)}`;
    },
    { name, description: `${name} tool`, schema },
  );

export function makeTools() {
  return [
    ticket('get_ticket', z.object({ id: z.string().describe('ticket id') })),
    ticket('get_org_ticket', z.object({ org: z.string(), id: z.string() })),
    ticket('update_ticket', z.object({ id: z.string(), status: z.string() })),
    ticket('delete_ticket', z.object({ id: z.string() })),
    ticket('send_email', z.object({ to: z.string(), subject: z.string(), body: z.string() })),
    ticket('send_signed', z.object({ to: z.string(), body: z.string() })),
    ticket('read_doc', z.object({ name: z.string() })),
  ];
}

export function makeGuard(extra: Partial<GuardOptions> = {}) {
  const sink = memorySink();
  const cfg = config();
  const guard = new Guard({
    config: cfg,
    sink,
    verifier: new Verifier({ trusted: cfg.trusted }),
    ...extra,
  });
  return { guard, sink };
}

type Call = { name: string; args: Record<string, unknown>; id?: string };

/** Runs a real createAgent loop whose fake model makes `calls` (one turn) then answers "done". */
export async function runAgent(tools: any[], calls: Call[], runConfig: Record<string, unknown>, middleware: any[] = []): Promise<ToolMessage[]> {
  const model = fakeModel().respondWithTools(calls).respond(new AIMessage('done'));
  const agent = createAgent({ model, tools, middleware });
  const out = await agent.invoke({ messages: [{ role: 'user', content: 'help' }] }, runConfig as never);
  const last = out.messages[out.messages.length - 1]!;
  if (last.content !== 'done') throw new Error('agent loop did not finish');
  return out.messages.filter((m: any) => m.getType() === 'tool') as ToolMessage[];
}

export function codeOf(m: ToolMessage): string {
  if (m.status !== 'error') return 'OK';
  return (m.artifact as { capframe: { code: string } }).capframe.code;
}
