/**
 * Signed checkpoints of an audit log. A hash chain locates any edit inside
 * it but cannot see its own end being cut off: whoever can write the file can
 * delete the last lines and the chain still verifies. A checkpoint line is a
 * signature, by the service's (or authority's) key, over the head of the
 * chain at some line `at`; it is itself a line of the chain. With the key
 * trusted, `verifyAuditLog` then proves every line up to the last checkpoint
 * unedited, and the checkpoint's time bounds how much can have been cut off:
 * the writer signs every `everyLines` lines and at least every
 * `everySeconds` (also when idle), so a last checkpoint older than that (plus
 * slack) means lines or checkpoints were removed.
 *
 *   line  = {"at":A,"head":H,"kid":K,"prev":P,"seq":S,"sig":G,"time":T,"type":"checkpoint","v":1,"hash":...}
 *   G     = Ed25519(key, "capframe-audit-checkpoint-v1" 0x00 || JCS({"at":A,"head":H,"kid":K,"time":T,"v":1}))
 *
 * where H is the hash of line A (A < S; signing is asynchronous, so lines may
 * be written between the head signed and the checkpoint line), K the
 * base64url key id and G base64url. The line's own `hash` and `prev` chain it
 * like any other line (docs/spec.md §…, record.ts).
 */
import { decodeBase64url, encodeBase64url } from '../encoding/base64url.ts';
import { label } from '../crypto/hash.ts';
import type { Signer } from '../crypto/signer.ts';
import { defaultBackend } from '../crypto/default.ts';
import { keyId, kidToString } from '../crypto/keys.ts';
import { canonicalJson } from '../token/args.ts';
import type { AuditHead } from './log.ts';

const CHECKPOINT_LABEL = label('capframe-audit-checkpoint-v1');
export const CHECKPOINT_VERSION = 1;

/** The fields of a checkpoint line that its signature covers. */
export interface CheckpointClaim {
  /** Sequence number of the line whose hash is signed. */
  readonly at: number;
  /** Hash of line `at`. */
  readonly head: string;
  /** base64url key id of the signing key. */
  readonly kid: string;
  /** ISO 8601 time of signing. */
  readonly time: string;
  readonly v: number;
}

export interface CheckpointOptions {
  /** The key that signs (the service's or the authority's). */
  readonly signer: Signer;
  /** Sign after this many lines since the last checkpoint. Default 1000. */
  readonly everyLines?: number;
  /** Sign at least this often, also when no line was written. Default 60. 0 = only by line count. */
  readonly everySeconds?: number;
}

function message(claim: CheckpointClaim): Uint8Array {
  const body = Buffer.from(canonicalJson({ at: claim.at, head: claim.head, kid: claim.kid, time: claim.time, v: claim.v }), 'utf8');
  const out = new Uint8Array(CHECKPOINT_LABEL.length + body.length);
  out.set(CHECKPOINT_LABEL, 0);
  out.set(body, CHECKPOINT_LABEL.length);
  return out;
}

/** Signs the head of a log: the members of a checkpoint line besides v/seq/prev/hash/type. */
export async function signCheckpoint(signer: Signer, head: AuditHead, time: string): Promise<CheckpointClaim & { sig: string }> {
  const claim: CheckpointClaim = { at: head.seq, head: head.hash, kid: kidToString(signer.kid), time, v: CHECKPOINT_VERSION };
  const sig = await signer.sign(message(claim));
  return { ...claim, sig: encodeBase64url(sig) };
}

/** True when `sig` is a valid signature of the claim by one of the trusted keys (matched by kid). */
export function checkCheckpoint(claim: CheckpointClaim & { sig: string }, trusted: readonly Uint8Array[]): boolean {
  const key = trusted.find((k) => kidToString(keyId(k)) === claim.kid);
  if (!key) return false;
  let sig: Uint8Array;
  try {
    sig = decodeBase64url(claim.sig);
  } catch {
    return false;
  }
  return sig.length === 64 && defaultBackend().verify(key, message(claim), sig);
}
