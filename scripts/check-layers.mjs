// Fails when a module under src/ imports upward in the layer order (README, "Layout").
// A folder may import its own files and any folder on a lower level; folders on the
// same level never import each other. Only literal specifiers are allowed: a computed
// dynamic import could hide an edge from this check.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LAYERS = [
  ['(root)'], // errors.ts, clock.ts, duration.ts
  ['encoding'],
  ['crypto'],
  ['token'],
  ['authority', 'holder', 'verify'],
  ['revocation', 'audit'],
  ['config'],
  ['remote'],
  ['server', 'langchain', 'deepagents', 'mcp'],
  ['cli'],
];
// Third-party packages each folder may import (anything else is an error): heavy or
// optional packages stay in the rooms that need them, so importing the core stays cheap.
export const PACKAGES = {
  // Signer backends (crypto/signers/) import these optional peers dynamically, only when used.
  crypto: ['@noble/ed25519', 'pkcs11js', '@aws-sdk/client-kms', '@google-cloud/kms'],
  authority: ['better-sqlite3'],
  token: ['cbor-x'],
  revocation: ['bloom-filters', 'better-sqlite3', 'postgres'],
  audit: ['@opentelemetry/api'],
  verify: ['better-sqlite3', '@redis/client'],
  config: ['yaml', 'zod'],
  remote: ['undici', 'zod'],
  // preact and htm: the console serves their browser files (resolved, never imported).
  server: ['zod', 'preact', 'htm'],
  langchain: ['@langchain/core', 'langchain', '@langchain/langgraph', 'zod'],
  deepagents: ['deepagents', '@langchain/core', 'langchain', '@langchain/langgraph'],
  mcp: ['@modelcontextprotocol/sdk', '@langchain/core', 'zod'],
  cli: [],
};
const ENTRY = 'index.ts'; // src/index.ts: the public API, above every layer

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
const level = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i])));

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}
function room(file) {
  const rel = relative(root, file).split(sep);
  return rel.length === 1 ? '(root)' : rel[0];
}
function packageName(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

// Static imports, side-effect imports, dynamic import() and require() (also through createRequire).
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*'([^']+)'|(?:^|\n)\s*import\s*'([^']+)'|\bimport\s*\(\s*([^)]*?)\s*\)|(?:\brequire|createRequire\([^)]*\))\s*\(\s*([^)]*?)\s*\)/g;
const problems = [];
let edges = 0;
for (const file of files(root)) {
  const rel = relative(root, file);
  if (rel === ENTRY) continue;
  const from = room(file);
  if (!level.has(from)) problems.push(`${rel}: folder "${from}" has no place in the layer order`);
  // Comments may mention imports; strip them before matching.
  const text = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  for (const m of text.matchAll(IMPORT)) {
    let spec = m[1] ?? m[2];
    const dynamic = m[3] ?? m[4];
    if (dynamic !== undefined) {
      const lit = /^'([^']+)'$/.exec(dynamic);
      if (!lit) {
        problems.push(`${rel}: computed import or require(${dynamic})`);
        continue;
      }
      spec = lit[1];
    }
    if (spec.startsWith('node:')) continue;
    edges++;
    if (!spec.startsWith('.')) {
      const pkg = packageName(spec);
      if (!(PACKAGES[from] ?? []).includes(pkg)) problems.push(`${rel}: imports package ${pkg}, which ${from}/ may not use`);
      continue;
    }
    const target = normalize(join(dirname(file), spec));
    if (relative(root, target) === ENTRY) {
      problems.push(`${rel}: imports the public entry src/index.ts`);
      continue;
    }
    const to = room(target);
    if (to === from) continue;
    const a = level.get(from),
      b = level.get(to);
    if (b === undefined) problems.push(`${rel}: imports ${spec} in folder "${to}", which has no place in the layer order`);
    else if (b > a) problems.push(`${rel}: ${from} (level ${a}) imports ${to} (level ${b}): upward`);
    else if (b === a) problems.push(`${rel}: ${from} imports ${to}, a peer on the same level`);
  }
}

console.log('Layer order, lowest first (a folder imports only from lower levels):');
LAYERS.forEach((names, i) => console.log(`  ${i}. ${names.join(', ')}`));
console.log(`${edges} imports checked; ${problems.length} upward, sideways or unlisted imports`);
for (const p of problems) console.log(`  ${p}`);
process.exit(problems.length === 0 ? 0 : 1);
