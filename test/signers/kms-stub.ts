/**
 * Local stand-ins for AWS KMS and Google Cloud KMS on 127.0.0.1: they answer the wire shape
 * the official clients speak (AWS: JSON 1.1, X-Amz-Target TrentService.*; GCP: the REST
 * mapping of google.cloud.kms.v1) and sign with an Ed25519 key they hold, so the signers run
 * through the real clients with no network.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKey, type PrivateKey } from '../../src/index.ts';
import { nodeBackend } from '../../src/crypto/index.ts';

const SPKI = '302a300506032b6570032100';
const backend = nodeBackend();

export interface KmsStub {
  url: string;
  port: number;
  key: PrivateKey;
  /** Requests seen: target (AWS) or method + path (GCP), and whether they were signed / authorised. */
  seen: { what: string; auth: boolean; body: Record<string, unknown> }[];
  /** Test levers: answer another KeySpec / algorithm, sign with another key. */
  keySpec: string;
  wrongKey?: PrivateKey;
  close(): Promise<void>;
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
}

export async function awsKmsStub(keyId = 'alias/capframe-root'): Promise<KmsStub> {
  const stub = { key: generateKey(), seen: [], keySpec: 'ECC_NIST_EDWARDS25519' } as unknown as KmsStub;
  const server = createServer((req, res) => {
    void body(req).then((text) => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const b = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
      stub.seen.push({ what: target, auth: /^AWS4-HMAC-SHA256 Credential=/.test(String(req.headers.authorization ?? '')), body: b });
      const send = (status: number, v: unknown) => res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(v));
      if (req.method !== 'POST' || req.headers['content-type'] !== 'application/x-amz-json-1.1') return send(400, { __type: 'SerializationException' });
      if (b.KeyId !== keyId) return send(400, { __type: 'NotFoundException', message: `Key '${String(b.KeyId)}' does not exist` });
      if (target === 'TrentService.GetPublicKey') {
        return send(200, {
          KeyId: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
          KeySpec: stub.keySpec,
          KeyUsage: 'SIGN_VERIFY',
          PublicKey: Buffer.concat([Buffer.from(SPKI, 'hex'), Buffer.from(stub.key.publicKey)]).toString('base64'),
          SigningAlgorithms: ['ED25519_SHA_512', 'ED25519_PH_SHA_512'],
        });
      }
      if (target === 'TrentService.Sign') {
        if (b.SigningAlgorithm !== 'ED25519_SHA_512' || b.MessageType !== 'RAW')
          return send(400, { __type: 'InvalidKeyUsageException', message: 'unsupported' });
        const msg = Buffer.from(String(b.Message), 'base64');
        if (msg.length > 4096) return send(400, { __type: 'ValidationException', message: 'Message too long' });
        const sig = backend.sign((stub.wrongKey ?? stub.key).seed, msg);
        return send(200, { KeyId: keyId, Signature: Buffer.from(sig).toString('base64'), SigningAlgorithm: 'ED25519_SHA_512' });
      }
      return send(400, { __type: 'UnknownOperationException' });
    });
  });
  const port = await listen(server);
  return Object.assign(stub, { port, url: `http://127.0.0.1:${port}`, close: closer(server) });
}

export async function gcpKmsStub(name: string): Promise<KmsStub> {
  const stub = { key: generateKey(), seen: [], keySpec: 'EC_SIGN_ED25519' } as unknown as KmsStub;
  const server = createServer((req, res) => {
    void body(req).then((text) => {
      const path = (req.url ?? '').split('?')[0]!;
      const b = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
      stub.seen.push({ what: `${req.method} ${path}`, auth: req.headers.authorization === 'Bearer stub-token', body: b });
      const send = (status: number, v: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v));
      if (req.headers.authorization !== 'Bearer stub-token') return send(401, { error: { code: 401, message: 'unauthenticated', status: 'UNAUTHENTICATED' } });
      if (req.method === 'GET' && path === `/v1/${name}/publicKey`) {
        const der = Buffer.concat([Buffer.from(SPKI, 'hex'), Buffer.from(stub.key.publicKey)]);
        const pem = `-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----\n`;
        return send(200, { pem, algorithm: stub.keySpec, name, protectionLevel: 'HSM' });
      }
      if (req.method === 'POST' && path === `/v1/${name}:asymmetricSign`) {
        if (typeof b.data !== 'string' || b.digest !== undefined)
          return send(400, { error: { code: 400, message: 'data required', status: 'INVALID_ARGUMENT' } });
        const sig = backend.sign((stub.wrongKey ?? stub.key).seed, Buffer.from(b.data, 'base64'));
        return send(200, { signature: Buffer.from(sig).toString('base64'), name, verifiedDataCrc32c: false, protectionLevel: 'HSM' });
      }
      return send(404, { error: { code: 404, message: `no route ${req.method} ${path}`, status: 'NOT_FOUND' } });
    });
  });
  const port = await listen(server);
  return Object.assign(stub, { port, url: `http://127.0.0.1:${port}`, close: closer(server) });
}
