/**
 * A Signer over an Ed25519 key inside a PKCS#11 token (an HSM, a smart card, SoftHSM),
 * through the optional peer `pkcs11js`, loaded only when such a signer is made. The private
 * key never leaves the token: it is found (or generated) by label, signs with CKM_EDDSA
 * (pure Ed25519, no pre-hash) and is created sensitive and non-extractable.
 */
import { ConfigError, InvalidArgumentError, UnauthorizedError } from '../../errors.ts';
import type { Signer } from '../signer.ts';
import { checkedSigner } from './checked.ts';

// PKCS#11 v3.0 values that pkcs11js does not name.
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
const CKM_EDDSA = 0x1057;
const CKK_EC_EDWARDS = 0x40;
/** CKA_EC_PARAMS of Ed25519: the DER OID 1.3.101.112 (RFC 8410). */
const ED25519_PARAMS = Buffer.from('06032b6570', 'hex');
const CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191;
const CKR_USER_ALREADY_LOGGED_IN = 0x100;
const CKR_PIN_INCORRECT = 0xa0;
const CKR_PIN_LOCKED = 0xa4;

export interface Pkcs11Options {
  /** Path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  module: string;
  /** Label of the token to use (or give `slot`). */
  token?: string;
  /** Slot id of the token. */
  slot?: number;
  /** CKA_LABEL of the key pair. */
  label: string;
  /** User PIN. Read it from the environment or a file; never put it on a command line. */
  pin?: string;
}

/** A Signer whose PKCS#11 session can be closed. */
export interface Pkcs11Signer extends Signer {
  /** Closes the session (the module stays loaded for other signers). */
  close(): void;
}

type Pkcs11Module = typeof import('pkcs11js');
type Pkcs11 = InstanceType<Pkcs11Module['PKCS11']>;
type Handle = Buffer;

/** One loaded module per path: C_Initialize runs once per process and module. */
const modules = new Map<string, Promise<{ lib: Pkcs11; p: Pkcs11Module }>>();

async function load(path: string): Promise<{ lib: Pkcs11; p: Pkcs11Module }> {
  let m = modules.get(path);
  if (!m) {
    m = (async () => {
      let p: Pkcs11Module;
      try {
        p = await import('pkcs11js');
      } catch {
        throw new ConfigError('a pkcs11: signer needs the optional package pkcs11js (npm install pkcs11js)');
      }
      const mod = ((p as { default?: Pkcs11Module }).default ?? p) as Pkcs11Module;
      const lib = new mod.PKCS11();
      try {
        lib.load(path);
      } catch (e) {
        throw new ConfigError(`pkcs11: cannot load module ${JSON.stringify(path)}: ${(e as Error).message}`);
      }
      try {
        lib.C_Initialize();
      } catch (e) {
        if ((e as { code?: number }).code !== CKR_CRYPTOKI_ALREADY_INITIALIZED) throw e;
      }
      return { lib, p: mod };
    })();
    modules.set(path, m);
    m.catch(() => modules.delete(path));
  }
  return m;
}

function findSlot(lib: Pkcs11, o: Pkcs11Options): Handle {
  const slots = lib.C_GetSlotList(true);
  for (const slot of slots) {
    if (o.slot !== undefined) {
      if (slot.readUIntLE(0, Math.min(slot.length, 6)) === o.slot) return slot;
      continue;
    }
    if (lib.C_GetTokenInfo(slot).label.trim() === o.token) return slot;
  }
  throw new ConfigError(o.slot !== undefined ? `pkcs11: no token in slot ${o.slot}` : `pkcs11: no token labelled ${JSON.stringify(o.token)}`);
}

function check(o: Pkcs11Options): void {
  if (!o || typeof o.module !== 'string' || o.module === '') throw new InvalidArgumentError('pkcs11: the module path is required');
  if ((o.token === undefined) === (o.slot === undefined)) throw new InvalidArgumentError('pkcs11: give the token label or the slot id (one of them)');
  if (typeof o.label !== 'string' || o.label === '') throw new InvalidArgumentError('pkcs11: the key label is required');
}

async function open(o: Pkcs11Options): Promise<{ lib: Pkcs11; p: Pkcs11Module; session: Handle }> {
  check(o);
  const { lib, p } = await load(o.module);
  const slot = findSlot(lib, o);
  const session = lib.C_OpenSession(slot, p.CKF_SERIAL_SESSION | p.CKF_RW_SESSION);
  if (o.pin !== undefined) {
    try {
      lib.C_Login(session, p.CKU_USER, o.pin);
    } catch (e) {
      const code = (e as { code?: number }).code;
      if (code !== CKR_USER_ALREADY_LOGGED_IN) {
        lib.C_CloseSession(session);
        // The PKCS#11 error names the code only, never the PIN.
        if (code === CKR_PIN_INCORRECT || code === CKR_PIN_LOCKED) throw new UnauthorizedError(`pkcs11: login refused (${(e as Error).message})`);
        throw e;
      }
    }
  }
  return { lib, p, session };
}

function findOne(lib: Pkcs11, session: Handle, template: { type: number; value: number | boolean | string | Buffer }[]): Handle[] {
  lib.C_FindObjectsInit(session, template);
  try {
    return lib.C_FindObjects(session, 2);
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

/** The raw key from CKA_EC_POINT: DER OCTET STRING of 32 bytes (PKCS#11 3.0), or the bare 32 bytes some tokens give. */
function rawPoint(point: Buffer): Uint8Array {
  if (point.length === 34 && point[0] === 0x04 && point[1] === 0x20) return new Uint8Array(point.subarray(2));
  if (point.length === 32) return new Uint8Array(point);
  throw new ConfigError('pkcs11: the public key is not an Ed25519 point');
}

function signerOver(lib: Pkcs11, session: Handle, key: Handle, publicKey: Uint8Array, o: Pkcs11Options): Pkcs11Signer {
  // A PKCS#11 session runs one operation at a time: signatures queue.
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  const base = checkedSigner(
    publicKey,
    (message) => {
      const run = queue.then(async () => {
        if (closed) throw new InvalidArgumentError('pkcs11: this signer is closed');
        lib.C_SignInit(session, { mechanism: CKM_EDDSA }, key);
        return new Uint8Array(await lib.C_SignAsync(session, Buffer.from(message), Buffer.alloc(64)));
      });
      queue = run.catch(() => undefined);
      return run;
    },
    `pkcs11 key ${JSON.stringify(o.label)}`,
  );
  return Object.freeze({
    publicKey: base.publicKey,
    kid: base.kid,
    sign: base.sign,
    close() {
      if (closed) return;
      closed = true;
      // No C_Logout: a PKCS#11 login belongs to the application, not the session, so logging
      // out would cut off every other signer on the token; closing its last session ends it.
      try {
        lib.C_CloseSession(session);
      } catch {
        // already closed with the token
      }
    },
  });
}

/** The Ed25519 key pair labelled `label` in the token, as a Signer. */
export async function pkcs11Signer(o: Pkcs11Options): Promise<Pkcs11Signer> {
  const { lib, p, session } = await open(o);
  try {
    const priv = findOne(lib, session, [
      { type: p.CKA_CLASS, value: p.CKO_PRIVATE_KEY },
      { type: p.CKA_KEY_TYPE, value: CKK_EC_EDWARDS },
      { type: p.CKA_LABEL, value: o.label },
    ]);
    const pub = findOne(lib, session, [
      { type: p.CKA_CLASS, value: p.CKO_PUBLIC_KEY },
      { type: p.CKA_KEY_TYPE, value: CKK_EC_EDWARDS },
      { type: p.CKA_LABEL, value: o.label },
    ]);
    if (priv.length !== 1 || pub.length !== 1) {
      throw new ConfigError(
        `pkcs11: ${priv.length === 0 || pub.length === 0 ? 'no' : 'more than one'} Ed25519 key pair labelled ${JSON.stringify(o.label)} (is the PIN given?)`,
      );
    }
    const [point] = lib.C_GetAttributeValue(session, pub[0]!, [{ type: p.CKA_EC_POINT }]);
    return signerOver(lib, session, priv[0]!, rawPoint(point!.value as Buffer), o);
  } catch (e) {
    lib.C_CloseSession(session);
    throw e;
  }
}

/**
 * Generates an Ed25519 key pair inside the token (CKM_EC_EDWARDS_KEY_PAIR_GEN), stored
 * there under `label`, the private half sensitive and non-extractable; returns its Signer.
 * Refuses when a key with that label exists.
 */
export async function generatePkcs11Key(o: Pkcs11Options): Promise<Pkcs11Signer> {
  const { lib, p, session } = await open(o);
  try {
    if (findOne(lib, session, [{ type: p.CKA_LABEL, value: o.label }]).length > 0) {
      throw new InvalidArgumentError(`pkcs11: the token already holds a key labelled ${JSON.stringify(o.label)}`);
    }
    const keys = lib.C_GenerateKeyPair(
      session,
      { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN },
      [
        { type: p.CKA_TOKEN, value: true },
        { type: p.CKA_LABEL, value: o.label },
        { type: p.CKA_EC_PARAMS, value: ED25519_PARAMS },
        { type: p.CKA_VERIFY, value: true },
      ],
      [
        { type: p.CKA_TOKEN, value: true },
        { type: p.CKA_PRIVATE, value: true },
        { type: p.CKA_LABEL, value: o.label },
        { type: p.CKA_SIGN, value: true },
        { type: p.CKA_SENSITIVE, value: true },
        { type: p.CKA_EXTRACTABLE, value: false },
      ],
    );
    const [point] = lib.C_GetAttributeValue(session, keys.publicKey, [{ type: p.CKA_EC_POINT }]);
    return signerOver(lib, session, keys.privateKey, rawPoint(point!.value as Buffer), o);
  } catch (e) {
    lib.C_CloseSession(session);
    throw e;
  }
}
