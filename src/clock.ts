/** Returns the current time in whole unix seconds. Inject one in tests. */
export type Clock = () => number;

export const systemClock: Clock = () => Math.floor(Date.now() / 1000);
