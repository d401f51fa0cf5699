// Child process for the crash test: appends audit lines as fast as it can until killed.
import { AuditLog } from '../../src/audit/log.ts';

const [path, maxBytes] = process.argv.slice(2);
const log = AuditLog.open({ path: path!, maxBytes: Number(maxBytes ?? 0) });
let i = 0;
for (;;) {
  log.write({
    decision: 'allow',
    tool: 'get_ticket',
    operation: 'read',
    resource: `tickets://acme/${i}`,
    callId: `c${i}`,
    latencyMs: 0.1,
    chainIds: ['ab'.repeat(16)],
  });
  i++;
  if (i === 200) process.stdout.write('ready\n');
  if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
}
