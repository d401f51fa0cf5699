/** `capframe audit verify FILE`: checks an audit log's hash chain (src/audit). */
import { resolve } from 'node:path';
import type { Io } from '../command.ts';
import { parseFlags } from '../args.ts';
import { verifyAuditLog } from '../../audit/verify.ts';

export async function run(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, { single: { type: 'boolean' }, head: { type: 'string' }, json: { type: 'boolean' } }, { min: 1, max: 1 });
  const file = resolve(io.cwd, f.positionals[0]!);
  const head = f.string('head');
  const r = verifyAuditLog(file, { single: f.bool('single'), ...(head ? { expectHead: head } : {}) });
  if (f.bool('json')) {
    io.stdout(JSON.stringify(r) + '\n');
  } else {
    for (const w of r.warnings) io.stderr(`warning: ${w}\n`);
    if (r.ok) {
      io.stdout(
        `ok: ${r.lines} lines in ${r.files.length} file(s), seq ${r.firstSeq ?? 0}..${r.head?.seq ?? 0}, head ${r.head ? `${r.head.seq}:${r.head.hash}` : 'none'}\n`,
      );
    } else {
      const p = r.problem!;
      io.stdout(
        `FAILED: ${p.file}${p.line ? `:${p.line}` : ''}${p.seq !== null ? ` (seq ${p.seq})` : ''}: ${p.kind}: ${p.message}\n` +
          `(${r.lines} lines verified before it)\n`,
      );
    }
  }
  return r.ok ? 0 : 1;
}
