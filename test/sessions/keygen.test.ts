// Fresh X25519 pairs (every handshake makes one on each side). Exporting the public half from a newly generated
// KeyObject deadlocked Node 20 now and then (a garbage collection during the export runs the generation job's
// destructor, which takes the lock the export holds): the loop below hung within a few thousand pairs on the old code.
// It runs in a child so that a hang is a failure with a time limit, not a test run that never ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, diffieHellman } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { x25519Pair, x25519Shared } from '../../src/crypto/session-keys.ts';

test('x25519Pair: 30,000 fresh pairs in a row never hang (garbage collections during key generation)', () => {
  const mod = pathToFileURL(join(import.meta.dirname, '../../src/crypto/session-keys.ts')).href;
  const code = `const { x25519Pair } = await import(${JSON.stringify(mod)});
let n = 0;
for (let i = 0; i < 30000; i++) n += x25519Pair().publicKey.length;
process.stdout.write(String(n));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
  assert.equal(r.signal, null, 'the key generation loop hung and was killed');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, String(30000 * 32));
});

test('x25519Pair: the raw public key is the one node:crypto derives from the private key, and agreement works both ways', () => {
  for (let i = 0; i < 20; i++) {
    const a = x25519Pair();
    const b = x25519Pair();
    assert.equal(a.privateKey.type, 'private');
    assert.equal(a.privateKey.asymmetricKeyType, 'x25519');
    const jwk = createPublicKey(a.privateKey).export({ format: 'jwk' });
    assert.deepEqual(Buffer.from(a.publicKey), Buffer.from(jwk.x!, 'base64url'));
    assert.deepEqual(x25519Shared(a.privateKey, b.publicKey), x25519Shared(b.privateKey, a.publicKey));
    const peer = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(b.publicKey).toString('base64url') }, format: 'jwk' });
    assert.deepEqual(Buffer.from(x25519Shared(a.privateKey, b.publicKey)), diffieHellman({ privateKey: a.privateKey, publicKey: peer }));
  }
  // A fixed private key (the vectors' path) still gives its RFC 7748 public key.
  const alice = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
  assert.equal(Buffer.from(x25519Pair(new Uint8Array(alice)).publicKey).toString('hex'), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
});
