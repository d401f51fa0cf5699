import { InvalidArgumentError } from './errors.ts';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parses `90`, `30s`, `10m`, `1h`, `7d` into whole seconds. */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text) || text <= 0) throw new InvalidArgumentError('a duration is a positive whole number of seconds');
    return text;
  }
  const m = /^\s*(\d{1,9})\s*([smhd]?)\s*$/.exec(String(text));
  if (!m) throw new InvalidArgumentError(`bad duration ${JSON.stringify(text)} (use e.g. 30s, 10m, 1h, 7d)`);
  const n = Number(m[1]) * UNITS[m[2] || 's']!;
  if (n <= 0) throw new InvalidArgumentError('a duration must be positive');
  return n;
}
