/** `capframe revocations export`: writes the registry's current signed revocation snapshot. */
import { resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import { DEFAULT_DB_PATH } from '../../revocation/registry.ts';
import { openRegistry } from '../../revocation/open-registry.ts';
import { exportSnapshot } from '../../revocation/publisher.ts';
import type { Command } from '../command.ts';
import { EXIT_HELP, Failure, parseFlags } from '../args.ts';
import { readPrivateKey } from '../files.ts';

export const revocationsExport: Command = {
  name: 'revocations export',
  summary: 'write the current signed revocation snapshot (for verify --revocations)',
  usage: `Usage: capframe revocations export [--db FILE] --key AUTH_KEY --out FILE

Builds the current revocation snapshot from the registry, signs it with the
authority key and writes its text form (cfr1...) to FILE ('-' for stdout).
Verifiers apply it with 'capframe verify ... --revocations FILE'; they refuse
a snapshot older than one they hold and, by default, one signed more than a
day ago for a file (five minutes for a live feed).

Options:
  --db FILE    registry: SQLite file (default ${DEFAULT_DB_PATH}) or a postgres:// URL
  --key FILE   the authority private key file (signs the snapshot)
  --out FILE   where to write the snapshot
  -h, --help   show this help

Prints one line on stderr: version, revoked ids, subjects, key cut-offs, size.
${EXIT_HELP}`,
  async run(argv, io) {
    const f = parseFlags(argv, { db: { type: 'string' }, key: { type: 'string' }, out: { type: 'string' } });
    const key = readPrivateKey(io, f.required('key'));
    const out = f.required('out');
    const registry = await openRegistry(f.string('db') ?? DEFAULT_DB_PATH, { cwd: io.cwd, pollMs: 0 });
    let snap;
    let view;
    try {
      snap = exportSnapshot(registry, key);
      view = registry.view();
    } finally {
      await registry.close();
    }
    if (out === '-') io.stdout(snap.text + '\n');
    else {
      try {
        writeFileSync(resolve(io.cwd, out), snap.text + '\n', { mode: 0o644 });
      } catch (e) {
        throw new Failure(`cannot write ${JSON.stringify(out)}: ${(e as { code?: string }).code ?? 'error'}`);
      }
    }
    io.stderr(`revocation snapshot version ${snap.version}: ${snap.count} ids, ${view.subjects.length} subjects, ${view.cutoffs.length} key cut-offs, ${snap.bytes.length} bytes\n`);
    return 0;
  },
};
