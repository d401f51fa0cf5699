/** `capframe revocations export`: writes the registry's current signed revocation snapshot. */
import { resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import { DEFAULT_DB_PATH } from '../../revocation/registry.ts';
import { openRegistry } from '../../revocation/open-registry.ts';
import { exportSnapshot } from '../../revocation/publisher.ts';
import type { Io } from '../command.ts';
import { Failure, parseFlags } from '../args.ts';
import { readPrivateKey } from '../files.ts';

export async function run(argv: string[], io: Io): Promise<number> {
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
  io.stderr(
    `revocation snapshot version ${snap.version}: ${snap.count} ids, ${view.subjects.length} subjects, ${view.cutoffs.length} key cut-offs, ${snap.bytes.length} bytes\n`,
  );
  return 0;
}
