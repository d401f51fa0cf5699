/**
 * The client side of POST /v1/revocation/check (docs/spec.md §10.9): a
 * ConfirmFn for BloomRevocationState that asks the verification service
 * whether filter hits are really revoked. Anything but a well-formed 200
 * answer about exactly the asked ids rejects (ERR_UNAVAILABLE), and the
 * state then denies the call.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { InvalidArgumentError, UnavailableError } from '../errors.ts';
import { CHECK_PATH } from '../revocation/paths.ts';
import type { ConfirmAnswer, ConfirmFn } from '../revocation/bloom-state.ts';

export interface ConfirmOptions {
  /** Base URL of the verification service (the configured service connection). */
  url: string;
  /** Deadline of one request, ms. Default 2000. */
  timeoutMs?: number;
}

const MAX_ANSWER = 64 * 1024;
const HEX_ID = /^[0-9a-f]{32}$/;

export function revocationConfirmer(o: ConfirmOptions): ConfirmFn {
  const url = new URL(CHECK_PATH, o.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('the revocation check url must be http(s)');
  const timeout = o.timeoutMs ?? 2000;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return (ids) =>
    new Promise<ConfirmAnswer>((resolve, reject) => {
      const body = JSON.stringify({ ids });
      const req = send(
        url,
        { method: 'POST', timeout, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } },
        (res: IncomingMessage) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new UnavailableError(`POST ${CHECK_PATH}: HTTP ${res.statusCode}`));
            return;
          }
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
            if (text.length > MAX_ANSWER) res.destroy(new Error('answer too large'));
          });
          res.on('error', (e) => reject(new UnavailableError(`POST ${CHECK_PATH}: ${e.message}`)));
          res.on('end', () => {
            try {
              const j = JSON.parse(text) as { revoked?: unknown };
              if (!j || !Array.isArray(j.revoked)) throw new Error('no revoked list');
              for (const r of j.revoked) if (typeof r !== 'string' || !HEX_ID.test(r) || !ids.includes(r)) throw new Error('an id that was not asked about');
              resolve({ revoked: j.revoked as string[] });
            } catch (e) {
              reject(new UnavailableError(`POST ${CHECK_PATH}: malformed answer (${(e as Error).message})`));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (e) => reject(new UnavailableError(`POST ${CHECK_PATH}: ${e.message}`)));
      req.end(body);
    });
}
