/** `capframe revoke`: records a revocation in the authority's registry (durable before it returns). */
import { kidToString } from '../../crypto/keys.ts';
import { DEFAULT_DB_PATH, type RevokeResult } from '../../revocation/registry.ts';
import { openRegistry } from '../../revocation/open-registry.ts';
import { Token } from '../../token/token.ts';
import type { Command } from '../command.ts';
import { EXIT_HELP, parseFlags, UsageError } from '../args.ts';
import { readPrivateKey, readTokenText } from '../files.ts';

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

export const revoke: Command = {
  name: 'revoke',
  summary: 'revoke a block id, a token, a subject, or everything a key issued before a time',
  usage: `Usage: capframe revoke [--db FILE] --key AUTH_KEY (--id ID | --token FILE | --sub SUBJECT | --before TIME) [--reason TEXT]

Records a revocation in the authority's registry. It is on disk (SQLite, WAL,
synchronous=FULL) when the command prints it. Verifiers learn of it from the
next signed snapshot: pushed at once by 'capframe serve' to subscribed
verifiers, or written by 'capframe revocations export'.

Exactly one of:
  --id ID        a block id (32 hex digits; 'capframe inspect' shows them).
                 Revoking a block revokes every token derived from it: the
                 root id revokes the whole tree of delegations.
  --token FILE   a token (file or cft1... text). Revokes its LAST (tip) block:
                 this token and everything delegated from it. Its parent
                 blocks stay valid; to revoke the whole chain give the root
                 id with --id. The token must be from the --key authority.
  --sub SUBJECT  every token that names SUBJECT in any block.
  --before TIME  every token the --key authority key issued (root iat) before
                 TIME: unix seconds, ISO 8601 with a zone, or "now". The
                 emergency lever; a later time replaces an earlier one.

Options:
  --db FILE|URL  registry: SQLite file (default ${DEFAULT_DB_PATH}) or
                 postgres://user@host:port/db[?schema=NAME] (schema default capframe)
  --key FILE     the authority private key file
  --reason TEXT  kept in the registry (never put in snapshots)
  -h, --help     show this help

Prints one line: what was revoked and the new snapshot version.
${EXIT_HELP}`,
  async run(argv, io) {
    const f = parseFlags(argv, {
      db: { type: 'string' }, key: { type: 'string' }, id: { type: 'string' }, token: { type: 'string' },
      sub: { type: 'string' }, before: { type: 'string' }, reason: { type: 'string' },
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
        case 'id': r = await registry.revokeId(f.required('id'), opts); what = `block id ${r.target}`; break;
        // Only this authority's tokens: a forged token must not be able to name ids or expiries.
        case 'token': r = await registry.revokeToken(token!, { ...opts, trusted: (kid) => (kidToString(kid) === kidToString(key.kid) ? key.publicKey : undefined) }); what = `token tip block ${r.target}`; break;
        case 'sub': r = await registry.revokeSubject(f.required('sub'), opts); what = `subject ${JSON.stringify(r.target)}`; break;
        default:
          r = await registry.revokeIssuedBefore(kidToString(key.kid), before!, opts);
          what = `tokens of key ${r.target} issued before ${new Date(before! * 1000).toISOString()}`;
      }
    } finally {
      await registry.close();
    }
    io.stdout(`${r.changed ? 'revoked' : 'already revoked'}: ${what} (registry version ${r.version})\n`);
    return 0;
  },
};
