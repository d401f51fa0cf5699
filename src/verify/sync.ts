/**
 * Keys of the synchronous checks of `Verifier`: the same checks as its
 * public async methods, answered without a promise when the replay store
 * answers synchronously (the in-memory default). They are for hot paths
 * inside capframe (the LangChain guard, the verification service): under
 * AsyncLocalStorage, which LangChain turns on, every promise costs
 * microseconds. No package entry exports these symbols, so they are not
 * part of the public API.
 */
export const authorizeSync: unique symbol = Symbol('capframe.authorizeSync');
export const verifyInvocationSync: unique symbol = Symbol('capframe.verifyInvocationSync');
