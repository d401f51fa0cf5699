/** Pieces every section of the config shares: the error, durations, whole numbers, `${VAR}` references. */
import { z } from 'zod';
import { parseDuration } from '../duration.ts';
import { ConfigError } from '../errors.ts';

// Same set as tool names in invocations (src/token/invocation-payload.ts): C0, DEL and C1.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
export const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function configError(message: string): ConfigError {
  return new ConfigError(message);
}

export const duration = z.union([z.string(), z.number()], { error: 'expected a duration such as 30s, 5m or a number of seconds' });
export const int = z.number({ error: 'expected a whole number' }).int({ error: 'expected a whole number' });

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function interpolate(text: string, env: Readonly<Record<string, string | undefined>>): string {
  return text.replace(ENV_REF, (_m, name: string, dflt: string | undefined) => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (dflt !== undefined) return dflt;
    throw new Error(`environment variable ${name} is not set`);
  });
}

export function seconds(v: string | number, max: number, min = 0): number {
  const n = v === 0 || v === '0' ? 0 : parseDuration(v);
  if (n < min || n > max) throw new Error(`must be between ${min} and ${max} seconds`);
  return n;
}
