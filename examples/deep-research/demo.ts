/**
 * `npm run demo:deep`: the deep-research example, offline (fakeModel()).
 * Prints each delegation (the child token's subject, grants and expiry) and
 * each tool call decision with its code.
 */
import { decodeChain } from '../../src/token/chain.ts';
import { runDeepResearch, type DemoEvent } from './research.ts';

const print = (e: DemoEvent) => {
  if (e.kind === 'delegation') {
    const c = decodeChain(e.delegation.token);
    const grants = c.blocks
      .at(-1)!
      .grants.map((g) => `${g.resource} [${g.permissions.join(',')}]${g.rate ? ` (at most ${g.rate.calls} per ${g.rate.per} s)` : ''}`);
    console.log(
      `\nDELEGATED to ${e.delegation.subagent}: ${c.subject}, ${grants.join(' ')}, expires ${new Date(c.exp * 1000).toISOString()}, fresh holder key`,
    );
    return;
  }
  const d = e.event;
  console.log(
    `${d.decision === 'allow' ? 'ALLOWED' : `DENIED  ${d.code}`}`.padEnd(30) +
      ` ${(d.subject ?? '').padEnd(22)} ${d.tool} ${d.resource ?? ''}` +
      (d.reason ? `\n${' '.repeat(31)}${d.reason}` : ''),
  );
};

const result = await runDeepResearch(print);
console.log(`\nfiles after the run: ${result.files.join(', ')}`);
console.log(`posted anywhere: ${result.posted.length === 0 ? 'nothing' : result.posted.join(', ')}`);
console.log(`lead: ${result.answer}`);
