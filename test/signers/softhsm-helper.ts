/**
 * A SoftHSM2 token in a temp dir for the PKCS#11 tests: its own softhsm2.conf (SOFTHSM2_CONF,
 * read once per process when the module is initialised) and a token initialised with
 * softhsm2-util. scripts/run-tests.mjs runs files that use this helper only where SoftHSM2
 * is installed (always with CI=true; .ci/run installs it).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmToken {
  module: string;
  token: string;
  pin: string;
  dir: string;
}

let shared: SoftHsmToken | undefined;

/**
 * The process's SoftHSM2 token (made on first use, removed at exit): the module reads its
 * configuration once, when first initialised, so every test of a file shares one token and
 * tells its keys apart by label.
 */
export function softHsmToken(): SoftHsmToken {
  if (shared) return shared;
  const dir = mkdtempSync(join(tmpdir(), 'capframe-softhsm-'));
  mkdirSync(join(dir, 'tokens'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  const token = 'capframe';
  const pin = '4321';
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', token, '--pin', pin, '--so-pin', '8765'], {
    env: { ...process.env, SOFTHSM2_CONF: conf },
    stdio: 'pipe',
  });
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  shared = { module: SOFTHSM_MODULE, token, pin, dir };
  return shared;
}
