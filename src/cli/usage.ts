/**
 * The help of every command: its name, one line for `capframe --help` and the
 * text of `capframe NAME --help`. Read on every start, so it imports nothing
 * but constants: a command's code is loaded only when it runs (commands.ts).
 */
import type { CommandHelp } from './command.ts';
import { LIMITS } from '../token/limits.ts';

/** The registry's default path (src/revocation/registry.ts, which loads SQLite; a test keeps the two equal). */
export const DEFAULT_DB_PATH = './.capframe/authority.db';

/** Help text shared by `issue` and `delegate`. */
export const GRANT_HELP = `Grants:
  --grant 'RESOURCE:perm1,perm2'   a resource pattern and its permissions, split on
                                   the LAST ':' (e.g. 'database://users/*:read,query').
                                   In a pattern '*' matches one segment, a trailing '**'
                                   any remainder. Repeat --grant for several grants.
  --constraint 'ARG=KIND:VALUE'    an argument constraint. Constraints apply to EVERY
                                   grant of the command; one constraint per argument.
     ARG=exact:VALUE               equal to VALUE
     ARG=oneOf:V1,V2,...           one of the values (or a JSON array: oneOf:["a,b","c"])
     ARG=range:MIN..MAX            a number in [MIN, MAX], MIN and MAX whole numbers; either side optional
     ARG=decimal:MIN..MAX          a number or decimal string in [MIN, MAX], exact decimals (decimal:0.01..10.5)
     ARG=notOneOf:V1,V2,...        none of the values
     ARG=length:MIN..MAX           string length (code points) or array size in [MIN, MAX]
     ARG=subset:V1,V2,...          an array whose elements are among the values
     ARG=contains:V1,V2,...        an array holding every value
     ARG=cidr:BLOCK                an IP address in BLOCK (10.0.0.0/8, 2001:db8::/32)
     ARG=regex:PATTERN             a string matching PATTERN whole (linear-time syntax, docs/policy.md)
     ARG=urlSafe:                  an http(s) URL to a public host (no loopback, private, metadata)
     ARG=url:{"host":"*.acme.example","path":"/v1"}   a URL matching scheme/host/port/path
     ARG=json:{"type":"each","constraint":{...}}      any constraint in its JSON form (each, all, anyOf, not)
  ARG may be an argument path: message.to, participants[] (every element).
  --tools NAME,NAME                the grants cover only calls of these tools (repeatable)
  --approver KEY --approval-threshold M
                                   (issue) calls under the grants also need M signed
                                   approvals by distinct --approver keys (repeatable;
                                   cfk1.... text or .pub file; see capframe approve)
  --closed                         arguments no constraint reaches are refused
  --rate CALLS/PER                 at most CALLS calls per PER window, e.g. 100/1h (docs/limits.md)
  --budget ARG=TOTAL[/PER]         the sum of argument ARG at most TOTAL (per window), e.g. amount=50/1d
     ARG=glob:PATTERN              a string matching PATTERN ('*' any run, '?' one char)
     ARG=prefix:TEXT               a string starting with TEXT
     ARG=under:/PATH               a clean absolute path equal to or under /PATH
  exact and oneOf values are read as JSON when they parse (42, true, null, "42"),
  otherwise as plain strings. A missing argument never satisfies a constraint.`;

export const EXIT_HELP = `Exit status: 0 success, 1 refused or failed (an error code such as
ERR_ATTENUATION on stderr), 2 usage error.`;

export const keygen: CommandHelp = {
  name: 'keygen',
  summary: 'generate an Ed25519 key pair: NAME.key (private, 0600) and NAME.pub',
  usage: `Usage: capframe keygen --out NAME.key [--force]

Generates an Ed25519 key pair. The private key is written to NAME.key with
mode 0600 and is never printed; the public key to NAME.pub beside it (one
cfk1.... line, mode 0644; a FILE not ending in .key gets FILE.pub). Prints
one line of JSON:
  {"kid": "...", "publicKey": "cfk1....", "publicKeyFile": "NAME.pub"}
Give NAME.pub (or the cfk1.... text) wherever a command takes a public key
(--holder, --to, --trust); the private key stays with its owner.

Options:
  --out FILE   where to write the private key (refuses to replace a file)
  --force      replace FILE and its .pub if they exist
  -h, --help   show this help

${EXIT_HELP}`,
};

export const issue: CommandHelp = {
  name: 'issue',
  summary: 'issue a root token signed by an authority key',
  usage: `Usage: capframe issue (--key AUTH_KEY | --signer URI) --sub ID --holder PUBKEY_OR_KEYFILE
                      --grant 'RESOURCE:perm1,perm2' [--grant ...] [--constraint ...]
                      --ttl 1h [--max-depth N] [--out FILE]

Issues a root token signed by the authority's private key and prints its text
form (cft1....), or writes it to FILE.

Options:
  --key FILE          the authority's private key file (from capframe keygen)
  --signer URI        or a key that never leaves its HSM or KMS (docs/authority.md):
                        pkcs11:token=T;object=LABEL?module-path=LIB&pin-source=env:VAR
                        awskms:KEY_ID_OR_ARN[?region=R]
                        gcpkms:projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V
                        file:AUTH_KEY
                      (a PIN is read from pin-source, never given on the command line)
  --sub ID            the subject: the agent's identity, e.g. agent:support
  --holder KEY        the agent's public key: cfk1.... text or its .pub file
  --grant, --constraint   see Grants below (at least one --grant)
  --ttl DURATION      lifetime: 30s, 10m, 1h, 7d or seconds
  --max-depth N       how many further delegations are allowed (default 0: none)
  --out FILE          write the token to FILE (mode 0600: a token is a
                      credential) instead of printing it
  -h, --help          show this help

${GRANT_HELP}

${EXIT_HELP}`,
};

export const delegate: CommandHelp = {
  name: 'delegate',
  summary: 'derive a narrower token for another key (holder signs)',
  usage: `Usage: capframe delegate --token FILE --key HOLDER_KEY --to PUBKEY_OR_KEYFILE --sub ID
                         [--grant 'RESOURCE:perm1,perm2' ...] [--constraint ...]
                         [--ttl 10m] [--max-depth N] [--out FILE]

Appends a delegation block signed by the token's current holder and prints the
new token (cft1....), or writes it to FILE. The child can only narrow: a grant,
permission, expiry or depth wider than the parent's is refused (exit 1,
ERR_ATTENUATION or ERR_DEPTH).

Options:
  --token FILE        the parent token file (or its cft1.... text)
  --key FILE          the private key of the parent token's holder
  --to KEY            the delegate's public key: cfk1.... text or its .pub file
  --sub ID            the delegate's identity, e.g. agent:summarizer
  --grant, --constraint   see Grants below. Without --grant the child keeps the
                      parent's grants (plus any --constraint, added to each).
  --ttl DURATION      lifetime (30s, 10m, 1h); default: the parent's expiry.
                      It may not end after the parent's expiry.
  --max-depth N       further delegations allowed below the child
                      (default: one less than the parent)
  --out FILE          write the token to FILE (mode 0600) instead of printing it
  -h, --help          show this help

${GRANT_HELP}

${EXIT_HELP}`,
};

export const invoke: CommandHelp = {
  name: 'invoke',
  summary: 'sign an invocation proof for one tool call (holder signs)',
  usage: `Usage: capframe invoke --token FILE --key HOLDER_KEY --tool NAME --op PERM
                       --resource URI --args JSON [--call-id ID] [--ttl 30s] [--out FILE]

Signs an invocation proof: this token's holder calls tool NAME with operation
PERM on resource URI with these arguments. Prints its text form (cfi1....),
or writes it to FILE. The proof is bound to the token, tool, operation,
resource and argument digest; it cannot be reused for another call.

Options:
  --token FILE      the token file (or its cft1.... text)
  --key FILE        the private key of the token's holder (last block)
  --tool NAME       the tool name
  --op PERM         the one permission this call uses, e.g. read
  --resource URI    the concrete resource, e.g. database://users/accounts
  --args JSON       the call's arguments, a JSON object ('{"id": 7}'), or @FILE
  --call-id ID      a unique id for the call (default: random)
  --ttl DURATION    lifetime of the proof (default 30s, at most ${LIMITS.maxInvocationWindow}s)
  --out FILE        write the proof to FILE (mode 0600: it acts until it
                    expires) instead of printing it
  -h, --help        show this help

${EXIT_HELP}`,
};

export const approve: CommandHelp = {
  name: 'approve',
  summary: 'sign an approval of one tool call (approver signs)',
  usage: `Usage: capframe approve --key APPROVER_KEY --request FILE [--ttl 10m] [--out FILE]

Signs an approval (docs/spec.md §15) of the call described by an approval
request: the JSON a LangChain interrupt exposes, or an entry of the service's
GET /v1/approvals ("request" member). The arguments' digest is recomputed
from the request's "args" and must equal its "argsDigest", and the key must
be one of its "approvers". Prints the approval (cfa1....) or writes it to
FILE; it is bound to the token, tool, operation, resource, arguments and
call id, and counts once toward the grant's threshold.

Options:
  --key FILE        the approver's private key
  --request FILE    the approval request (JSON)
  --ttl DURATION    lifetime of the approval (default 10m, at most 1h)
  --out FILE        write the approval to FILE instead of printing it
  -h, --help        show this help

${EXIT_HELP}`,
};

export const verify: CommandHelp = {
  name: 'verify',
  summary: 'verify a signed invocation proof against a token (exit 0 allowed, 1 denied)',
  usage: `Usage: capframe verify --token FILE --invocation FILE --trust PUBKEY_OR_FILE [--trust ...]
                       --tool NAME --args JSON [--op PERM] [--resource URI]
                       [--skew SECONDS] [--revocations FILE] [--json]

Verifies the token's chain against the trusted authority keys, the invocation
proof's signature by the token's holder, that the proof matches the call
(tool, arguments, and --op/--resource when given) and the call rules (scope,
constraints, expiry). Prints one line, or with --json one JSON object:
  {"allowed": true, "mode", "tool", "operation", "resource", "callId",
   "argsDigest", "subject", "chainIds", "grant", "expiresAt"}       exit 0
(the same JSON as the verification service's decisions)
  {"allowed": false, "code": "ERR_...", "reason": "...", ...}        exit 1
The token, the proof and the raw arguments are never printed.

Options:
  --token FILE         the token file (or its cft1.... text)
  --invocation FILE    the invocation proof file (or its cfi1.... text)
  --trust KEY          a trusted authority public key: cfk1.... text or a .pub
                       file (a file may list several cfk1.... lines); repeatable.
                       A private key file is refused: a verifier never needs
                       the authority's signing key.
  --tool NAME          the tool actually being called
  --args JSON          the arguments actually passed, a JSON object, or @FILE
  --op PERM            require the proof to name this operation
  --resource URI       require the proof to name this resource
  --skew SECONDS       clock skew tolerated on every time check (default 30)
  --revocations FILE   apply a signed revocation snapshot (revoked: ERR_REVOKED)
  --json               print the decision as JSON
  -h, --help           show this help

Note: the replay cache lives in this process only, so a one-shot verify
cannot detect a proof replayed across separate runs; use a long-lived
verifier (the library or the service) for that.

${EXIT_HELP}`,
};

export const inspect: CommandHelp = {
  name: 'inspect',
  summary: 'show the decoded chain of a token (or an invocation proof), no secrets',
  usage: `Usage: capframe inspect FILE [--json]

Decodes a token file (cft1....) and shows its chain: for each block its id,
subject, holder public key, grants and constraints, expiry and maximum depth.
Also decodes an invocation proof file (cfi1....). FILE may also be the text
itself. Signatures are NOT checked: use capframe verify to decide anything.

Options:
  --json       print JSON instead of text
  -h, --help   show this help

${EXIT_HELP}`,
};

export const revoke: CommandHelp = {
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
};

export const revocationsExport: CommandHelp = {
  name: 'revocations export',
  summary: 'write the current signed revocation snapshot (for verify --revocations)',
  usage: `Usage: capframe revocations export [--db FILE] (--key AUTH_KEY | --signer URI) --out FILE

Builds the current revocation snapshot from the registry, signs it with the
authority key and writes its text form (cfr1...) to FILE ('-' for stdout).
Verifiers apply it with 'capframe verify ... --revocations FILE'; they refuse
a snapshot older than one they hold and, by default, one signed more than a
day ago for a file (five minutes for a live feed).

Options:
  --db FILE    registry: SQLite file (default ${DEFAULT_DB_PATH}) or a postgres:// URL
  --key FILE   the authority private key file (signs the snapshot)
  --signer URI or a signer URI as for 'capframe issue' (pkcs11:, awskms:, gcpkms:)
  --out FILE   where to write the snapshot
  -h, --help   show this help

Prints one line on stderr: version, revoked ids, subjects, key cut-offs, size.
${EXIT_HELP}`,
};

export const enroll: CommandHelp = {
  name: 'enroll',
  summary: 'print a one-time enrolment code for an authority profile',
  usage: `Usage: capframe enroll --config FILE --profile NAME [--subject SUBJECT] [--ttl DURATION]

Creates a one-time enrolment code for the authority of \`capframe serve\`
(the config's server.authority section) and prints it. An agent enrols its
holder key under PROFILE with it (POST /v1/enrolments {"request", "code"}),
once, before the code expires (--ttl, default server.authority.codeTtl).
Only the code's SHA-256 digest is stored (server.authority.db). With
--subject, the code is good for that subject only; otherwise for any
subject matching the profile's pattern.

Options:
  --config FILE     the YAML config (required)
  --profile NAME    the profile (required)
  --subject SUBJECT bind the code to one subject
  --ttl DURATION    lifetime of the code (e.g. 15m, 1h)`,
};

export const serve: CommandHelp = {
  name: 'serve',
  summary: 'run the verification service (POST /v1/verify, /healthz, /metrics)',
  usage: `Usage: capframe serve --config FILE [--port N] [--host ADDR]

Runs the capframe verification service over HTTP until SIGINT or SIGTERM.
FILE is the capframe YAML config: its 'trust' section gives the trusted
authority keys, its 'server' section the service settings (host, port,
bodyLimit, timeouts, maxConnections, adminSecretEnv / adminSecretFile,
audit.path / maxBytes / maxFiles / fsync, revocation.db / keyFile / maxAge).
Binds to 127.0.0.1 unless the
config or --host says otherwise.

Endpoints:
  POST /v1/verify   {"token","invocation","tool","args","operation","resource"} -> decision JSON
  POST /v1/revoke   {"token"} | {"id"} | {"subject"} | {"kid","before"} (Authorization: Bearer <admin secret>)
  POST /v1/enrolments, /v1/tokens, /v1/disenrol   with server.authority (docs/authority.md)
  GET  /v1/revocations[/stream]   the signed revocation snapshot and its push stream
  GET  /healthz     {"status":"ok"}
  GET  /metrics     Prometheus text: decisions by code, latency histogram

Options:
  --config FILE   the YAML config (required)
  --port N        overrides server.port (0: any free port)
  --host ADDR     overrides server.host
  -h, --help      show this help

Exit status: 0 after a clean shutdown, 1 when the service cannot start
(ERR_CONFIG on stderr), 2 usage error.`,
};

export const auditVerify: CommandHelp = {
  name: 'audit verify',
  summary: 'check an audit log: report the first altered, inserted or deleted line',
  usage: `Usage: capframe audit verify FILE [--single] [--head HASH] [--trust KEY]
                             [--max-age DURATION] [--max-uncovered N] [--json]

Checks the hash chain of the audit log FILE and of its rotated files
(FILE.1, FILE.2, ...: oldest first, then FILE). Prints "ok" with the number
of lines and the head (seq:hash of the last line), or the first line that
was altered, inserted or deleted (file:line, seq).

A torn last line (a write cut short by a crash) is reported as a warning.
Lines cut off the end, or a chain rewritten from some point on, can only be
detected against a head recorded elsewhere (--head), or with signed
checkpoints: a service with server.audit.checkpoint signs the chain head
every N lines and every S seconds. With --trust, every checkpoint must verify
under KEY, lines up to the last one are proven unedited, and --max-age /
--max-uncovered bound what can have been cut off the end.

Options:
  --single            check FILE alone, not its rotated predecessors
  --head HASH         the log must end at this head (HASH or SEQ:HASH)
  --trust KEY         public key (cfk1.... or a .pub file) whose checkpoints
                      are trusted; repeatable
  --max-age DURATION  with --trust: fail when the last checkpoint is older
                      (e.g. 2m for a live log signed every 60 s)
  --max-uncovered N   with --trust: fail when more lines follow the last
                      checkpoint's signed line
  --json              print the result as one JSON object
  -h, --help    show this help

Exit status: 0 the chain is intact, 1 a problem was found, 2 usage error.`,
};

export const pubkey: CommandHelp = {
  name: 'pubkey',
  summary: 'print or write the public key of a private key file',
  usage: `Usage: capframe pubkey KEYFILE [--out NAME.pub] [--force]

Prints the public key (cfk1....) of the private key file KEYFILE, or writes
it to NAME.pub (mode 0644), for keys made before keygen wrote NAME.pub.

Options:
  --out FILE   write the public key to FILE (refuses to replace a file)
  --force      replace FILE if it exists
  -h, --help   show this help

${EXIT_HELP}`,
};
