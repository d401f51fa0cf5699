/**
 * What a caller that decides on tool calls (the LangChain guard) needs of a
 * verifier that is not the in-process `Verifier`: `RemoteVerifier`, or a
 * verifier of your own.
 */
import type { Clock } from '../clock.ts';
import type { PrivateKey } from '../crypto/keys.ts';
import type { Invocation } from '../token/invocation.ts';
import type { Decision, ExpectedCall, LocalCall, TokenInput } from './verifier.ts';

/** The run's holder key and the lifetime of the proofs signed with it. */
export interface CallSigner {
  /** Holder key of the token (its `holder`). */
  readonly holderKey: PrivateKey;
  /** Lifetime of the proof, seconds or a duration such as `'30s'`. */
  readonly ttl?: number | string;
  readonly clock?: Clock;
}

export interface CallVerifier {
  /**
   * Decides on a call that comes without a proof. `signer` is the run's
   * holder key when it has one: a verifier that checks signed calls only
   * signs the call with it first (`RemoteVerifier` signs the calls queued
   * together as one batch, docs/spec.md §4.4). Never rejects: a denial is a
   * Decision.
   */
  verifyCall(token: TokenInput, call: LocalCall, signer?: CallSigner): Promise<Decision>;
  /** Decides on a call with its signed proof (`cfi1.` or a batch item). Never rejects. */
  verifyInvocation(token: TokenInput, invocation: Invocation | string | Uint8Array, expected: ExpectedCall): Promise<Decision>;
}
