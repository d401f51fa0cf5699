/** HTTP helpers of the verification service: typed refusals, JSON answers, capped body reads. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ErrorCode } from '../errors.ts';

/** A request refused before any decision: status, stable code, metrics reason. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly reason = 'invalid_body',
  ) {
    super(message);
  }
}

export function digest(s: string | Buffer): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Constant-time check of an `Authorization: Bearer …` header against the admin secret. */
export function checkBearer(header: string | undefined, secretDigest: Buffer | null): boolean {
  if (!secretDigest) return false;
  const m = typeof header === 'string' ? /^Bearer +(\S+)\s*$/i.exec(header) : null;
  // Always hash and compare (equal-length digests), so timing says nothing about the secret.
  const given = digest(m ? m[1]! : '');
  return timingSafeEqual(given, secretDigest) && m !== null;
}

export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      reject(new HttpError(413, 'ERR_TOO_LARGE', `request body is larger than ${limit} bytes`, 'too_large'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        reject(new HttpError(413, 'ERR_TOO_LARGE', `request body is larger than ${limit} bytes`, 'too_large'));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks, size));
      }
    });
    req.on('error', (e) => {
      if (!done) {
        done = true;
        reject(new HttpError(400, 'ERR_MALFORMED', `request failed: ${e.message}`, 'aborted'));
      }
    });
    req.on('close', () => {
      if (!done) {
        done = true;
        reject(new HttpError(400, 'ERR_MALFORMED', 'request aborted', 'aborted'));
      }
    });
  });
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'ERR_MALFORMED', 'request body is not valid JSON', 'malformed_json');
  }
}

export function zodMessage(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  const i = issues[0];
  if (!i) return 'invalid request body';
  const where = i.path.length ? i.path.map(String).join('.') : 'body';
  return `${where}: ${i.message}`.slice(0, 300);
}
