/**
 * Encodings of the points of small order (1, 2, 4, 8) of edwards25519, compared
 * without the sign bit (as libsodium does). OpenSSL accepts such public keys,
 * and for them signatures can be made without any private key (e.g. the
 * identity point with R = identity, S = 0 verifies for every message); the
 * spec (§3.0) and the noble backend refuse them.
 */
const SMALL_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map((h) => Buffer.from(h, 'hex'));

/** A public key the strict rules (RFC 8032 §5.1.7, spec §3.0) refuse: small order, or y not below p. */
export function isWeakPublicKey(pub: Uint8Array): boolean {
  if (pub.length !== 32) return true;
  for (const bad of SMALL_ORDER) {
    let d = (pub[31]! & 0x7f) ^ bad[31]!;
    for (let i = 0; i < 31; i++) d |= pub[i]! ^ bad[i]!;
    if (d === 0) return true;
  }
  // Non-canonical y (p <= y < 2^255): bytes 1..30 all 0xff, byte 31 (sign masked) 0x7f, byte 0 >= 0xed.
  if ((pub[31]! & 0x7f) !== 0x7f || pub[0]! < 0xed) return false;
  for (let i = 1; i < 31; i++) if (pub[i] !== 0xff) return false;
  return true;
}
