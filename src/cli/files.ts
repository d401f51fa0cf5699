/**
 * Files of the CLI: key files, token and invocation files, outputs.
 * Private keys are written with mode 0600 and never printed; nothing here
 * echoes file contents in an error message.
 */
import { closeSync, fsyncSync, openSync, readSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { MalformedError, TooLargeError } from '../errors.ts';
import {
  PRIVATE_KEY_FILE_TYPE, PUBLIC_KEY_PREFIX, parsePrivateKey, parsePublicKey, serializePrivateKey, type PrivateKey,
} from '../crypto/keys.ts';
import { TOKEN_PREFIX } from '../token/token.ts';
import { INVOCATION_PREFIX } from '../token/invocation.ts';
import type { Io } from './command.ts';
import { Failure, UsageError } from './args.ts';

/** Largest input file read (tokens are at most 16 KiB binary; keys are tiny). */
export const MAX_INPUT_BYTES = 1024 * 1024;

function reason(e: unknown): string {
  const code = (e as { code?: string }).code;
  switch (code) {
    case 'ENOENT': return 'no such file';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    default: return code ?? 'unreadable';
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

/** `--key FILE`: a private key file written by `capframe keygen`. */
export function readPrivateKey(io: Io, path: string, flag = 'key'): PrivateKey {
  if (path.trim().startsWith(PUBLIC_KEY_PREFIX)) {
    throw new UsageError(`--${flag} needs a private key file (from capframe keygen), not a public key`);
  }
  const text = readInput(io, path, 'key file', 64 * 1024);
  try {
    return parsePrivateKey(text);
  } catch (e) {
    if (!(e instanceof MalformedError)) throw e;
    const t = text.trim();
    const isPublic = t.startsWith(PUBLIC_KEY_PREFIX) || (t.startsWith('{') && !t.includes('"privateKey"') && t.includes('"publicKey"'));
    throw new MalformedError(`--${flag} ${JSON.stringify(path)}: ${isPublic ? 'holds a public key; give the private key file written by capframe keygen' : e.message}`);
  }
}

/**
 * A key argument: a `cfk1.` public key text, or a file holding one of: a
 * private key file (its public half is used), the JSON that `keygen` prints,
 * or `cfk1.` lines (blank lines and `#` comments ignored).
 */
export function readPublicKeys(io: Io, arg: string, flag: string): Uint8Array[] {
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
    const d = (doc ?? {}) as { type?: unknown; publicKey?: unknown };
    if (d.type === PRIVATE_KEY_FILE_TYPE) return [parsePrivateKey(text).publicKey];
    if (typeof d.publicKey === 'string') return [parsePublicKey(d.publicKey)];
    throw new MalformedError(`--${flag} ${JSON.stringify(arg)}: not a key file (no "publicKey")`);
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
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

/** `--token FILE` (or the `cft1.` text itself). */
export function readTokenText(io: Io, arg: string, flag = 'token'): string {
  if (arg.trim().startsWith(TOKEN_PREFIX)) return arg.trim();
  return readInput(io, arg, `--${flag} file`).trim();
}

/** `--invocation FILE` (or the `cfi1.` text itself). */
export function readInvocationText(io: Io, arg: string): string {
  if (arg.trim().startsWith(INVOCATION_PREFIX)) return arg.trim();
  return readInput(io, arg, '--invocation file').trim();
}

/** `--args JSON` or `--args @FILE`. */
export function readArgsText(io: Io, arg: string): string {
  return arg.startsWith('@') ? readInput(io, arg.slice(1), '--args file') : arg;
}

/**
 * Writes a new private key file with mode 0600. Refuses to replace an
 * existing file unless `force`; even then the file is recreated (never
 * rewritten in place with looser permissions).
 */
export function writePrivateKeyFile(io: Io, path: string, key: PrivateKey, force: boolean): void {
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
    fd = openSync(full, 'wx', 0o600);
  } catch (e) {
    if ((e as { code?: string }).code === 'EEXIST') throw new Failure(`${JSON.stringify(path)} already exists (use --force to replace it)`);
    throw new Failure(`cannot write ${JSON.stringify(path)}: ${reason(e)}`);
  }
  try {
    writeSync(fd, serializePrivateKey(key));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a token or invocation text form (plus newline) to --out, or prints it. */
export function writeOutput(io: Io, out: string | undefined, text: string): void {
  if (out === undefined || out === '-') {
    io.stdout(text + '\n');
    return;
  }
  try {
    writeFileSync(resolve(io.cwd, out), text + '\n', { mode: 0o644 });
  } catch (e) {
    throw new Failure(`cannot write ${JSON.stringify(out)}: ${reason(e)}`);
  }
}
