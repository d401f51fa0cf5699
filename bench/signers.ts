/**
 * Signers suite: issuing one root token (build, sign, encode) with the authority key in
 * memory (issueToken, sync), through keySigner (the async path, same key), through a
 * non-extractable WebCrypto key, and through SoftHSM2 over PKCS#11 when it is installed.
 * Measured side by side (bench/stats.ts). Cloud KMS signers are not timed: their cost is a
 * network round trip this machine does not have.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, issueToken, issueTokenWith } from '../src/index.ts';
import { generatePkcs11Key, generateWebCryptoSigner, keySigner, type Pkcs11Signer } from '../src/crypto/index.ts';
import { compare, fmtUs, round, summarize, type Case } from './stats.ts';
import type { BenchContext, BenchResult, BenchRow, Suite } from './suite.ts';

const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';
const GRANTS = [{ resource: 'tickets://acme/*', permissions: ['read', 'write'], constraints: { limit: { type: 'range' as const, min: 1, max: 100 } } }];

/** A SoftHSM2 token in a temp dir with one generated Ed25519 key, or undefined where SoftHSM2 is absent. */
async function softHsm(): Promise<{ signer: Pkcs11Signer; done(): void } | undefined> {
  if (!existsSync(SOFTHSM)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'capframe-bench-hsm-'));
  mkdirSync(join(dir, 'tokens'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  process.env.SOFTHSM2_CONF = conf;
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--pin', '1111', '--so-pin', '2222'], { stdio: 'pipe' });
  const signer = await generatePkcs11Key({ module: SOFTHSM, token: 'bench', label: 'bench', pin: '1111' });
  return {
    signer,
    done: () => {
      signer.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const key = generateKey();
  const holder = generateKey().publicKey;
  const o = { subject: 'agent:bench', holder, grants: GRANTS, ttl: '5m' };
  const viaKeySigner = keySigner(key);
  const web = await generateWebCryptoSigner();
  const hsm = await softHsm();
  const cases: Case[] = [
    { name: 'file_key', run: () => issueToken({ key, ...o }) },
    { name: 'key_signer', run: () => issueTokenWith(viaKeySigner, o) },
    { name: 'webcrypto', run: () => issueTokenWith(web, o) },
  ];
  if (hsm) cases.push({ name: 'pkcs11_softhsm', run: () => issueTokenWith(hsm.signer, o) });
  let samples;
  try {
    samples = await compare(cases, ctx.quick ? { warmup: 20, iterations: 100, rounds: 2 } : { warmup: 300, iterations: 3000, rounds: 10 });
  } finally {
    hsm?.done();
  }
  const s = (name: string) => summarize(samples.get(name)!);
  const metrics: Record<string, number> = {
    issue_token_us: round(s('file_key').p50),
    issue_token_p99_us: round(s('file_key').p99),
    issue_token_keysigner_us: round(s('key_signer').p50),
    issue_token_webcrypto_us: round(s('webcrypto').p50),
    issue_token_webcrypto_p99_us: round(s('webcrypto').p99),
  };
  if (hsm) metrics.issue_token_pkcs11_us = round(s('pkcs11_softhsm').p50);
  const rows: BenchRow[] = [
    { name: 'issue_token, key file (issueToken, sync), p50', value: fmtUs(s('file_key').p50) },
    { name: 'issue_token, keySigner (issueTokenWith), p50', value: fmtUs(s('key_signer').p50) },
    { name: 'issue_token, WebCrypto non-extractable key, p50', value: fmtUs(s('webcrypto').p50) },
  ];
  if (hsm) rows.push({ name: 'issue_token, SoftHSM2 over PKCS#11 (signature checked), p50', value: fmtUs(s('pkcs11_softhsm').p50) });
  return { metrics, rows };
}

export const signersSuite: Suite = { name: 'signers', default: true, run };
