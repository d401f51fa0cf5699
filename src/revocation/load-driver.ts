/**
 * Loads an optional database driver when a registry is opened, not when the
 * module is imported: a verifier, a CLI command without a registry, or an
 * install without the driver never loads (or needs) it.
 */
import { ConfigError } from '../errors.ts';

const loaded = new Map<string, unknown>();

/**
 * `load()` (a literal `require(name)` at the call site, so the layer check
 * sees which package each room loads) for a CommonJS driver package
 * (synchronous, cached). A
 * missing package is ERR_CONFIG naming it and how to install it; any other
 * load failure (e.g. a native module built for another Node) is ERR_CONFIG
 * with the loader's message.
 */
export function loadDriver<T>(name: string, load: () => unknown, purpose: string): T {
  const hit = loaded.get(name);
  if (hit !== undefined) return hit as T;
  let mod: unknown;
  try {
    mod = load();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND' && String((e as Error).message).includes(`'${name}'`)) {
      throw new ConfigError(`${purpose} needs the optional package ${name}, which is not installed (npm install ${name})`, { cause: e });
    }
    throw new ConfigError(`${purpose}: cannot load ${name}: ${(e as Error).message}`, { cause: e });
  }
  loaded.set(name, mod);
  return mod as T;
}
