/**
 * Heap check of the verification service ("memory stays flat"):
 * the service and 8 keep-alive clients in one process, POST /v1/verify with
 * fresh signed proofs for HEAP_SECONDS (default 40), the audit log on. Every 5 s
 * it forces two full GCs and prints what is still alive: the JS heap should
 * stay flat; `arrayBuffers` grows with the replay table, which holds each
 * call for the invocation window + clock skew (60 s by default) and is
 * bounded by the replay capacity. RSS is printed too: it also reflects what
 * V8 and the allocator keep reserved, which is why the soak's RSS rises.
 *
 *   npm run heap            (node --expose-gc --import tsx bench/heap.ts)
 */
import { Pool } from 'undici';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInvocation, Verifier } from '../src/index.ts';
import { createVerifyService } from '../src/server/index.ts';
import { AuditLog } from '../src/audit/log.ts';
import { benchToken } from './support.ts';
const { authority, holder, token } = benchToken();
const dir = mkdtempSync(join(tmpdir(), 'leak-'));
const audit = AuditLog.open({ path: join(dir, 'a.jsonl'), source: 'service' });
const svc = createVerifyService({ verifier: new Verifier({ trusted: [authority.publicKey] }), audit });
const { url } = await svc.listen(0);
const pool = new Pool(url, { connections: 8 });
const tt = token.toString();
let i = 0;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run heap)');
const mem = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return `heapUsed ${(m.heapUsed / 2 ** 20).toFixed(1)} MiB, external ${(m.external / 2 ** 20).toFixed(1)}, arrayBuffers ${(m.arrayBuffers / 2 ** 20).toFixed(1)}, rss ${(m.rss / 2 ** 20).toFixed(0)}`;
};
console.log('start', mem());
const t0 = Date.now();
let next = t0 + 5000;
const seconds = Number(process.env.HEAP_SECONDS ?? 40);
while (Date.now() - t0 < seconds * 1000) {
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      const k = i++;
      const proof = createInvocation(token, {
        key: holder,
        tool: 'get_ticket',
        operation: 'read',
        resource: `tickets://acme/${k}`,
        args: { id: k },
        callId: `c-${k}`,
      });
      const r = await pool.request({
        path: '/v1/verify',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          token: tt,
          invocation: proof.toString(),
          tool: 'get_ticket',
          operation: 'read',
          resource: `tickets://acme/${k}`,
          args: { id: k },
        }),
      });
      const j = (await r.body.json()) as { allowed: boolean };
      if (!j.allowed) throw new Error('denied');
    }),
  );
  if (Date.now() > next) {
    console.log(`t=${((Date.now() - t0) / 1000).toFixed(0)}s calls ${i}`, mem());
    next += 5000;
  }
}
await pool.close();
await svc.close();
audit.close();
