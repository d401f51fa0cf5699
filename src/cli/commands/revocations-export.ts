/** `capframe revocations export`: writes the registry's current signed revocation snapshot. */
import { resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import { DEFAULT_DB_PATH } from '../../revocation/registry.ts';
import { openRegistry } from '../../revocation/open-registry.ts';
import { exportSnapshot, exportSnapshotWith } from '../../revocation/publisher.ts';
import { signerFromUri } from '../../crypto/signers/from-uri.ts';
import type { Io } from '../command.ts';
import { Failure, parseFlags, UsageError } from '../args.ts';
import { readPrivateKey } from '../files.ts';

export async function run(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, { db: { type: 'string' }, key: { type: 'string' }, signer: { type: 'string' }, out: { type: 'string' } });
  const keyPath = f.string('key');
  const signerUri = f.string('signer');
  if ((keyPath === undefined) === (signerUri === undefined)) throw new UsageError('give --key FILE or --signer URI (one of them)');
  const key = keyPath !== undefined ? readPrivateKey(io, keyPath) : undefined;
  const out = f.required('out');
  const signer = signerUri !== undefined ? await signerFromUri(signerUri, { cwd: io.cwd, env: io.env }) : undefined;
  let snap;
  let view;
  try {
    const registry = await openRegistry(f.string('db') ?? DEFAULT_DB_PATH, { cwd: io.cwd, pollMs: 0 });
    try {
      snap = key ? exportSnapshot(registry, key) : await exportSnapshotWith(registry, signer!);
      view = registry.view();
    } finally {
      await registry.close();
    }
  } finally {
    signer?.close?.();
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
