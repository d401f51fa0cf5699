/**
 * Edge cases of the Ed25519 acceptance rule (docs/spec.md §3.0), made with
 * @noble/ed25519 point arithmetic from fixed seeds: each case is a public
 * key, message and signature, and whether a conforming verifier accepts it.
 * Part of the generated vectors (`signatures`, §11).
 */
import { createHash } from 'node:crypto';
import * as ed from '@noble/ed25519';

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const sha512 = (...parts: Uint8Array[]) => {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const le = (b: Uint8Array) => {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
};
const toLe = (n: bigint, len = 32) => {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
};
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const cat = (...p: Uint8Array[]) => Uint8Array.from(Buffer.concat(p));
const enc = new TextEncoder();

/** The clamped secret scalar of a seed (RFC 8032 §5.1.5). */
function scalarOf(seed: Uint8Array): bigint {
  const h = sha512(seed).subarray(0, 32);
  h[0]! &= 248;
  h[31]! &= 127;
  h[31]! |= 64;
  return le(h) % L; // aB = (a mod L)B: B has order L
}
const challenge = (R: Uint8Array, A: Uint8Array, m: Uint8Array) => le(sha512(R, A, m)) % L;
/** A signature with a chosen R point and nonce scalar r (R need not be rB: the caller decides). */
function signWith(R: Uint8Array, r: bigint, a: bigint, A: Uint8Array, m: Uint8Array): Uint8Array {
  return cat(R, toLe((r + challenge(R, A, m) * a) % L));
}

export interface SignatureCase {
  name: string;
  description: string;
  publicKey: string;
  message: string;
  signature: string;
  valid: boolean;
}

export function ed25519EdgeCases(seed: Uint8Array): SignatureCase[] {
  const B = ed.Point.BASE;
  const a = scalarOf(seed);
  const A = B.multiply(a).toBytes();
  const msg = enc.encode('capframe-v1 signature edge case');
  const r = le(sha512(enc.encode('capframe-v1 test vector nonce scalar'))) % L;
  const Rpt = B.multiply(r).toBytes();
  const good = signWith(Rpt, r, a, A, msg);
  const identity = ed.Point.ZERO.toBytes();
  const t8 = ed.Point.fromBytes(Uint8Array.from(Buffer.from('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', 'hex')), false);
  const out: SignatureCase[] = [];
  const add = (name: string, description: string, pk: Uint8Array, m: Uint8Array, sig: Uint8Array, valid: boolean) =>
    out.push({ name, description, publicKey: hex(pk), message: hex(m), signature: hex(sig), valid });

  add('valid', 'ordinary signature (R = rB, S = r + kA mod L)', A, msg, good, true);
  // R = identity, S = k·a: [S]B = R + [k]A holds; libsodium and this rule refuse a small-order R.
  add(
    'small-order-R-identity',
    'R is the identity point (small order), S = k·a mod L: the equation holds, refused because R has small order',
    A,
    msg,
    signWith(identity, 0n, a, A, msg),
    false,
  );
  add(
    'small-order-A-identity',
    'A is the identity point, R = identity, S = 0: verifies for every message under a lax rule',
    identity,
    msg,
    cat(identity, new Uint8Array(32)),
    false,
  );
  add('small-order-A-order-8', 'A is a point of order 8, R = identity, S = 0', t8.toBytes(), msg, cat(identity, new Uint8Array(32)), false);
  {
    const s = le(good.subarray(32)) + L;
    add('S-not-reduced', 'the valid signature with S + L in place of S (S >= L)', A, msg, cat(good.subarray(0, 32), toLe(s)), false);
  }
  {
    // y = p + 2: a non-canonical R (y >= p); no R = rB has such an encoding, so this only tests the refusal.
    const R = toLe(2n ** 255n - 19n + 2n);
    add('non-canonical-R', 'R encoded with y = p + 2 (y >= p), S from the valid signature', A, msg, cat(R, good.subarray(32)), false);
    const Anc = toLe(2n ** 255n - 19n + 2n);
    add('non-canonical-A', 'A encoded with y = p + 2 (y >= p)', Anc, msg, good, false);
  }
  {
    // Mixed-order R = rB + T (T of order 8): the cofactored equation holds, the cofactorless one does not.
    const Rm = B.multiply(r).add(t8).toBytes();
    add(
      'mixed-order-R',
      'R = rB + T with T of order 8, S = r + k·a: accepted by a cofactored verifier, refused by the cofactorless rule',
      A,
      msg,
      signWith(Rm, r, a, A, msg),
      false,
    );
  }
  {
    // Mixed-order A = aB + T: [S]B - [k]A = R - [k]T, so the cofactorless rule accepts exactly when k ≡ 0 (mod 8).
    const Am = B.multiply(a).add(t8).toBytes();
    let found0 = false,
      foundOther = false;
    for (let i = 0; i < 200 && !(found0 && foundOther); i++) {
      const m = enc.encode(`capframe-v1 mixed-order key message ${i}`);
      const k = challenge(Rpt, Am, m);
      const sig = signWith(Rpt, r, a, Am, m);
      if (k % 8n === 0n && !found0) {
        found0 = true;
        add('mixed-order-A-k0', 'A = aB + T (T of order 8), R = rB, S = r + k·a with k ≡ 0 mod 8: the cofactorless equation holds', Am, m, sig, true);
      }
      if (k % 8n !== 0n && !foundOther) {
        foundOther = true;
        add('mixed-order-A-k-not-0', 'A = aB + T, R = rB, S = r + k·a with k ≢ 0 mod 8: cofactored accepts, cofactorless refuses', Am, m, sig, false);
      }
    }
    if (!found0 || !foundOther) throw new Error('generator: no mixed-order message found');
  }
  return out;
}

/** A signature by `seed` over `message` whose R is the identity point (valid under a rule that allows small-order R). */
export function identityRSignature(seed: Uint8Array, message: Uint8Array): Uint8Array {
  const a = scalarOf(seed);
  const A = ed.Point.BASE.multiply(a).toBytes();
  return signWith(ed.Point.ZERO.toBytes(), 0n, a, A, message);
}
