/** `capframe revoke`: records a revocation in the authority's registry (durable before it returns). */
import { kidToString } from '../../crypto/keys.ts';
import { DEFAULT_DB_PATH, type RevokeResult } from '../../revocation/registry.ts';
import { openRegistry } from '../../revocation/open-registry.ts';
import { Token } from '../../token/token.ts';
import type { Io } from '../command.ts';
import { parseFlags, UsageError } from '../args.ts';
import { readPrivateKey } from '../files.ts';
import { readTokenText } from '../token-files.ts';

/** `--before`: unix seconds, an ISO 8601 date-time, or `now`. */
export function parseTime(text: string, now = Math.floor(Date.now() / 1000)): number {
  const t = text.trim();
  if (t === 'now') return now;
  if (/^\d{1,12}$/.test(t)) return Number(t);
  if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms) && ms >= 0) return Math.floor(ms / 1000);
  }
  throw new UsageError(`--before ${JSON.stringify(text)}: expected unix seconds, an ISO 8601 time with a zone (2026-11-25T18:00:00Z) or "now"`);
}

export async function run(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    db: { type: 'string' },
    key: { type: 'string' },
    id: { type: 'string' },
    token: { type: 'string' },
    sub: { type: 'string' },
    before: { type: 'string' },
    reason: { type: 'string' },
  });
  const key = readPrivateKey(io, f.required('key'));
  const chosen = ['id', 'token', 'sub', 'before'].filter((n) => f.string(n) !== undefined);
  if (chosen.length !== 1) throw new UsageError('give exactly one of --id, --token, --sub, --before');
  const reason = f.string('reason');
  const opts = reason !== undefined ? { reason } : {};
  let before: number | undefined;
  let token: Token | undefined;
  if (chosen[0] === 'before') before = parseTime(f.required('before'));
  if (chosen[0] === 'token') {
    token = Token.parse(readTokenText(io, f.required('token')));
  }
  const registry = await openRegistry(f.string('db') ?? DEFAULT_DB_PATH, { cwd: io.cwd, pollMs: 0 });
  let r: RevokeResult;
  let what: string;
  try {
    switch (chosen[0]) {
      case 'id':
        r = await registry.revokeId(f.required('id'), opts);
        what = `block id ${r.target}`;
        break;
      // Only this authority's tokens: a forged token must not be able to name ids or expiries.
      case 'token':
        r = await registry.revokeToken(token!, { ...opts, trusted: (kid) => (kidToString(kid) === kidToString(key.kid) ? key.publicKey : undefined) });
        what = `token tip block ${r.target}`;
        break;
      case 'sub':
        r = await registry.revokeSubject(f.required('sub'), opts);
        what = `subject ${JSON.stringify(r.target)}`;
        break;
      default:
        r = await registry.revokeIssuedBefore(kidToString(key.kid), before!, opts);
        what = `tokens of key ${r.target} issued before ${new Date(before! * 1000).toISOString()}`;
    }
  } finally {
    await registry.close();
  }
  io.stdout(`${r.changed ? 'revoked' : 'already revoked'}: ${what} (registry version ${r.version})\n`);
  return 0;
}
