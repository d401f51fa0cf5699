/**
 * The console's static files, read once at start into memory: the compiled
 * page (dist/ui/, built from console/ by `tsc -p tsconfig.console.json`) and
 * the two browser modules it imports by relative path, served from the
 * installed packages (preact, htm; resolved like any import, so the copy the
 * service was installed with is the one served). Nothing is read from disk
 * per request and no request path reaches the file system.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../errors.ts';

export interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** dist/ui/ of this package: three levels above this module, from src/ (tsx) and dist/ alike. */
export function pageDir(): string {
  return fileURLToPath(new URL('../../../dist/ui/', import.meta.url));
}

function walk(dir: string, prefix: string, out: Map<string, Asset>): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, `${prefix}${name}/`, out);
    else if (TYPES[extname(name)]) out.set(`${prefix}${name}`, { body: readFileSync(p), type: TYPES[extname(name)]! });
  }
}

/** Map of path below /ui/ (e.g. "app.js", "vendor/preact.js") to its bytes. ERR_CONFIG when the page is not built. */
export function loadAssets(dir = pageDir()): Map<string, Asset> {
  const out = new Map<string, Asset>();
  try {
    walk(dir, '', out);
  } catch (e) {
    throw new ConfigError(
      `the console page is not built (${dir}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}); run npm run build, or set server.console.enabled: false`,
    );
  }
  if (!out.has('index.html') || !out.has('app.js')) throw new ConfigError(`the console page is incomplete in ${dir}; run npm run build`);
  for (const [name, spec] of [
    ['vendor/preact.js', 'preact'],
    ['vendor/htm.js', 'htm'],
  ] as const) {
    let file: string;
    try {
      file = fileURLToPath(import.meta.resolve(spec));
    } catch (e) {
      throw new ConfigError(`the console needs the package ${spec}: ${(e as Error).message}`);
    }
    out.set(name, { body: readFileSync(file), type: TYPES['.js']! });
  }
  return out;
}

/** Headers of every /ui response: no script but our own files, nothing framed, nothing leaked. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});
