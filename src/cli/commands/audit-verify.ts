/** `capframe audit verify FILE`: checks an audit log's hash chain (src/audit). */
import { resolve } from 'node:path';
import type { Command } from '../command.ts';
import { parseFlags } from '../args.ts';
import { verifyAuditLog } from '../../audit/verify.ts';

export const auditVerify: Command = {
  name: 'audit verify',
  summary: 'check an audit log: report the first altered, inserted or deleted line',
  usage: `Usage: capframe audit verify FILE [--single] [--head HASH] [--json]

Checks the hash chain of the audit log FILE and of its rotated files
(FILE.1, FILE.2, ...: oldest first, then FILE). Prints "ok" with the number
of lines and the head (seq:hash of the last line), or the first line that
was altered, inserted or deleted (file:line, seq).

A torn last line (a write cut short by a crash) is reported as a warning.
Lines cut off the end, or a chain rewritten from some point on, can only be
detected against a head recorded elsewhere: pass it with --head.

Options:
  --single      check FILE alone, not its rotated predecessors
  --head HASH   the log must end at this head (HASH or SEQ:HASH)
  --json        print the result as one JSON object
  -h, --help    show this help

Exit status: 0 the chain is intact, 1 a problem was found, 2 usage error.`,
  async run(argv, io) {
    const f = parseFlags(argv, { single: { type: 'boolean' }, head: { type: 'string' }, json: { type: 'boolean' } }, { min: 1, max: 1 });
    const file = resolve(io.cwd, f.positionals[0]!);
    const head = f.string('head');
    const r = verifyAuditLog(file, { single: f.bool('single'), ...(head ? { expectHead: head } : {}) });
    if (f.bool('json')) {
      io.stdout(JSON.stringify(r) + '\n');
    } else {
      for (const w of r.warnings) io.stderr(`warning: ${w}\n`);
      if (r.ok) {
        io.stdout(`ok: ${r.lines} lines in ${r.files.length} file(s), seq ${r.firstSeq ?? 0}..${r.head?.seq ?? 0}, head ${r.head ? `${r.head.seq}:${r.head.hash}` : 'none'}\n`);
      } else {
        const p = r.problem!;
        io.stdout(`FAILED: ${p.file}${p.line ? `:${p.line}` : ''}${p.seq !== null ? ` (seq ${p.seq})` : ''}: ${p.kind}: ${p.message}\n` +
          `(${r.lines} lines verified before it)\n`);
      }
    }
    return r.ok ? 0 : 1;
  },
};
