/**
 * Files of the CLI: key files, token and invocation files, outputs.
 * Private keys, tokens and invocation proofs are credentials: written with
 * mode 0600, never printed unless asked. Nothing here echoes file contents
 * in an error message.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { MalformedError, TooLargeError } from '../errors.ts';
import { PRIVATE_KEY_FILE_TYPE, PUBLIC_KEY_PREFIX, parsePrivateKey, parsePublicKey, serializePrivateKey, type PrivateKey } from '../crypto/keys.ts';
import type { Io } from './command.ts';
import { Failure, UsageError } from './args.ts';

/** Largest input file read (tokens are at most 16 KiB binary; keys are tiny). */
export const MAX_INPUT_BYTES = 1024 * 1024;

function reason(e: unknown): string {
  const code = (e as { code?: string }).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return code ?? 'unreadable';
  }
}

/**
 * Reads a text file named on the command line, at most `maxBytes` (counted
 * while reading: devices, pipes and /proc files report no size). A missing
 * or unreadable file is a usage error, a larger one ERR_TOO_LARGE.
 */
export function readInput(io: Io, path: string, what: string, maxBytes = MAX_INPUT_BYTES): string {
  const full = resolve(io.cwd, path);
  const tooLarge = () => new TooLargeError(`${what} ${JSON.stringify(path)} is larger than ${maxBytes} bytes`);
  let fd: number;
  try {
    if (statSync(full).isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
    fd = openSync(full, 'r');
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${JSON.stringify(path)}: ${reason(e)}`);
  }
  try {
    const chunks: Buffer[] = [];
    let n = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(64 * 1024);
      const r = readSync(fd, chunk, 0, chunk.length, null);
      if (r === 0) break;
      n += r;
      if (n > maxBytes) throw tooLarge();
      chunks.push(chunk.subarray(0, r));
    }
    return Buffer.concat(chunks, n).toString('utf8');
  } catch (e) {
    if (e instanceof TooLargeError) throw e;
    throw new UsageError(`cannot read ${what} ${JSON.stringify(path)}: ${reason(e)}`);
  } finally {
    closeSync(fd);
  }
}

/** `--key FILE` (or a positional argument named in capitals, e.g. KEYFILE): a private key file written by `capframe keygen`. */
export function readPrivateKey(io: Io, path: string, flag = 'key'): PrivateKey {
  const name = /^[A-Z]+$/.test(flag) ? flag : `--${flag}`;
  if (path.trim().startsWith(PUBLIC_KEY_PREFIX)) {
    throw new UsageError(`${name} needs a private key file (from capframe keygen), not a public key`);
  }
  const text = readInput(io, path, 'key file', 64 * 1024);
  try {
    return parsePrivateKey(text);
  } catch (e) {
    if (!(e instanceof MalformedError)) throw e;
    const t = text.trim();
    const isPublic = t.startsWith(PUBLIC_KEY_PREFIX) || (t.startsWith('{') && !t.includes('"privateKey"') && t.includes('"publicKey"'));
    throw new MalformedError(
      `${name} ${JSON.stringify(path)}: ${isPublic ? 'holds a public key; give the private key file written by capframe keygen' : e.message}`,
    );
  }
}

/** NAME.key -> NAME.pub; any other name gets `.pub` appended (as ssh-keygen does). */
export function publicKeyPath(privatePath: string): string {
  return privatePath.endsWith('.key') ? privatePath.slice(0, -'.key'.length) + '.pub' : privatePath + '.pub';
}

/**
 * What a public-key flag does with a private key file: `refuse` where only a
 * verifier's trust is at stake (--trust: a verifying host must not hold the
 * authority's signing key), `warn` where only the public half is used anyway
 * (--holder, --to: the issuer needs no copy of the holder's private key).
 */
export type PrivateKeyPolicy = 'refuse' | 'warn';

function privateKeyGiven(io: Io, arg: string, flag: string, policy: PrivateKeyPolicy): void {
  const pub = publicKeyPath(arg);
  const hint = existsSync(resolve(io.cwd, pub))
    ? `give its public key file ${JSON.stringify(pub)}`
    : `give its public key file (capframe keygen writes NAME.pub beside NAME.key; capframe pubkey ${JSON.stringify(arg)} writes it for an older key)`;
  if (policy === 'refuse') {
    throw new UsageError(`--${flag} ${JSON.stringify(arg)} is a private key file; a verifier must not hold the signing key: ${hint} or its cfk1.... text`);
  }
  io.stderr(`warning: --${flag} ${JSON.stringify(arg)} is a private key file; only its public key is used. Next time ${hint}\n`);
}

/**
 * A key argument: a `cfk1.` public key text, or a file holding one of: the
 * `.pub` file of `keygen` (`cfk1.` lines; blank lines and `#` comments
 * ignored), the JSON that `keygen` prints, or a private key file (see
 * PrivateKeyPolicy).
 */
export function readPublicKeys(io: Io, arg: string, flag: string, privateKey: PrivateKeyPolicy = 'warn'): Uint8Array[] {
  const a = arg.trim();
  if (a.startsWith(PUBLIC_KEY_PREFIX)) return [parsePublicKey(a)];
  const text = readInput(io, arg, 'key file', 64 * 1024).trim();
  if (text.startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new MalformedError(`--${flag} ${JSON.stringify(arg)}: not a key file (invalid JSON)`);
    }
    const d = (doc ?? {}) as { type?: unknown; publicKey?: unknown; privateKey?: unknown };
    if (d.type === PRIVATE_KEY_FILE_TYPE || d.privateKey !== undefined) {
      privateKeyGiven(io, arg, flag, privateKey);
      return [parsePrivateKey(text).publicKey];
    }
    if (typeof d.publicKey === 'string') return [parsePublicKey(d.publicKey)];
    throw new MalformedError(`--${flag} ${JSON.stringify(arg)}: not a key file (no "publicKey")`);
  }
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new MalformedError(`--${flag} ${JSON.stringify(arg)}: the file holds no key`);
  return lines.map((l) => {
    if (!l.startsWith(PUBLIC_KEY_PREFIX)) throw new MalformedError(`--${flag} ${JSON.stringify(arg)}: not a key file (expected ${PUBLIC_KEY_PREFIX}… lines)`);
    return parsePublicKey(l);
  });
}

/** A key argument that must name exactly one public key. */
export function readPublicKey(io: Io, arg: string, flag: string): Uint8Array {
  const keys = readPublicKeys(io, arg, flag);
  if (keys.length !== 1) throw new UsageError(`--${flag} ${JSON.stringify(arg)} holds ${keys.length} keys; give exactly one`);
  return keys[0]!;
}

/** `--args JSON` or `--args @FILE`. */
export function readArgsText(io: Io, arg: string): string {
  return arg.startsWith('@') ? readInput(io, arg.slice(1), '--args file') : arg;
}

/**
 * Creates a new file with `mode` (before the umask), writes `text` and
 * fsyncs it. Refuses to replace an existing file unless `force`; even then
 * the file is recreated, never rewritten in place with looser permissions.
 */
function writeNewFile(io: Io, path: string, text: string, mode: number, force: boolean): void {
  const full = resolve(io.cwd, path);
  if (force) {
    try {
      unlinkSync(full);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT') throw new Failure(`cannot replace ${JSON.stringify(path)}: ${reason(e)}`);
    }
  }
  let fd: number;
  try {
    fd = openSync(full, 'wx', mode);
  } catch (e) {
    if ((e as { code?: string }).code === 'EEXIST') throw new Failure(`${JSON.stringify(path)} already exists (use --force to replace it)`);
    throw new Failure(`cannot write ${JSON.stringify(path)}: ${reason(e)}`);
  }
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a new private key file with mode 0600 (see writeNewFile). */
export function writePrivateKeyFile(io: Io, path: string, key: PrivateKey, force: boolean): void {
  writeNewFile(io, path, serializePrivateKey(key), 0o600, force);
}

/** Writes a new public key file (one `cfk1.` line) with mode 0644 (see writeNewFile). */
export function writePublicKeyFile(io: Io, path: string, publicKeyText: string, force: boolean): void {
  writeNewFile(io, path, publicKeyText + '\n', 0o644, force);
}

/**
 * Writes a token or invocation proof text form (plus newline) to --out, or
 * prints it. The file is a credential (a check without a holder signature
 * accepts a bare token; a proof acts until it expires): it is created with
 * mode 0600 under a temporary name and renamed over FILE, so a replaced file
 * never keeps a looser mode and a reader never sees half a credential.
 */
export function writeCredential(io: Io, out: string | undefined, text: string): void {
  if (out === undefined || out === '-') {
    io.stdout(text + '\n');
    return;
  }
  const full = resolve(io.cwd, out);
  const tmp = join(dirname(full), `.${basename(full)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o600);
  } catch (e) {
    throw new Failure(`cannot write ${JSON.stringify(out)}: ${reason(e)}`);
  }
  try {
    try {
      writeSync(fd, text + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, full);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw new Failure(`cannot write ${JSON.stringify(out)}: ${reason(e)}`);
  }
}
