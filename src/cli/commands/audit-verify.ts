/** `capframe audit verify FILE`: checks an audit log's hash chain (src/audit). */
import { resolve } from 'node:path';
import type { Io } from '../command.ts';
import { parseFlags, UsageError } from '../args.ts';
import { verifyAuditLog } from '../../audit/verify.ts';
import { readPublicKeys } from '../files.ts';
import { parseDuration } from '../../duration.ts';

export async function run(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(
    argv,
    {
      single: { type: 'boolean' },
      head: { type: 'string' },
      json: { type: 'boolean' },
      trust: { type: 'string', multiple: true },
      'max-age': { type: 'string' },
      'max-uncovered': { type: 'string' },
    },
    { min: 1, max: 1 },
  );
  const file = resolve(io.cwd, f.positionals[0]!);
  const head = f.string('head');
  const trust = f.list('trust').flatMap((k) => readPublicKeys(io, k, 'trust', 'refuse'));
  const maxAge = f.string('max-age');
  const maxUncovered = f.string('max-uncovered');
  if ((maxAge !== undefined || maxUncovered !== undefined) && trust.length === 0) throw new UsageError('--max-age and --max-uncovered need --trust');
  if (maxUncovered !== undefined && !/^[0-9]{1,9}$/.test(maxUncovered)) throw new UsageError('--max-uncovered takes a whole number of lines');
  const r = verifyAuditLog(file, {
    single: f.bool('single'),
    ...(head ? { expectHead: head } : {}),
    ...(trust.length > 0 ? { trust } : {}),
    ...(maxAge !== undefined ? { maxCheckpointAge: parseDuration(maxAge) } : {}),
    ...(maxUncovered !== undefined ? { maxUncovered: Number(maxUncovered) } : {}),
  });
  if (f.bool('json')) {
    io.stdout(JSON.stringify(r) + '\n');
  } else {
    for (const w of r.warnings) io.stderr(`warning: ${w}\n`);
    if (r.ok) {
      io.stdout(
        `ok: ${r.lines} lines in ${r.files.length} file(s), seq ${r.firstSeq ?? 0}..${r.head?.seq ?? 0}, head ${r.head ? `${r.head.seq}:${r.head.hash}` : 'none'}\n` +
          (r.checkpoint
            ? `signed: every line through seq ${r.checkpoint.at} (checkpoint at seq ${r.checkpoint.seq}, ${r.checkpoint.time}); ${r.uncovered} line(s) after it not yet signed\n`
            : ''),
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
