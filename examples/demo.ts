/**
 * `npm run demo`: the customer-support agent behind capframe, offline.
 *
 * A scripted model (LangChain's fakeModel()) plays an agent that reads a
 * prompt-injection ticket and tries to obey it (delete tickets, mail the
 * customer list outside, traverse to another resource), then does its real
 * work, then hands a read-only summarizer sub-agent the queue. Every tool
 * call is printed with ALLOWED / DENIED, the code and the reason.
 *
 * With OPENAI_API_KEY or ANTHROPIC_API_KEY set, a real chat model is used
 * when its LangChain provider package (@langchain/openai, @langchain/anthropic)
 * is installed; otherwise the scripted model runs.
 */
import { initChatModel } from 'langchain';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { runSupportDemo } from './support/agent.ts';

async function realModels(): Promise<{ support: BaseChatModel; summarizer: BaseChatModel } | undefined> {
  const id = process.env.OPENAI_API_KEY ? 'openai:gpt-4o-mini' : process.env.ANTHROPIC_API_KEY ? 'anthropic:claude-3-5-haiku-latest' : undefined;
  if (!id) return undefined;
  try {
    const support = (await initChatModel(id)) as unknown as BaseChatModel;
    const summarizer = (await initChatModel(id)) as unknown as BaseChatModel;
    console.log(`using the real model ${id}`);
    return { support, summarizer };
  } catch (e) {
    console.log(`(an API key is set, but ${id} is not usable here: ${(e as Error).message.split('\n')[0]}; using the scripted model)`);
    return undefined;
  }
}

const models = await realModels();
console.log('capframe demo: a customer-support agent whose tools are guarded by capability tokens\n');
const run = await runSupportDemo({ log: (l) => console.log(l), ...(models ? { models } : {}) });

const allowed = run.calls.filter((c) => c.decision === 'allow').length;
console.log(`\n${run.calls.length} tool calls: ${allowed} allowed, ${run.calls.length - allowed} denied`);
console.log('\ntickets after the run (SQLite):');
for (const t of run.tickets) console.log(`  #${t.id} ${t.status.padEnd(8)} ${t.subject}`);
console.log('\noutbox:');
for (const m of run.outbox) console.log(`  to ${m.to.padEnd(22)} ${m.subject}`);
console.log(`\nagent's answer: ${run.answer}`);
console.log(`\naudit log: ${run.auditLines.length} JSON lines (no tokens, keys or arguments), e.g.\n  ${run.auditLines[0]}`);
console.log('\nThe same decisions live in a browser: npm run demo:console (starts a service with the web console at /ui).');
