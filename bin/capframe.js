#!/usr/bin/env node
// The capframe CLI. `npm run build` (run by `npm install`/`npm ci` through `prepare`) creates dist/.
const entry = new URL('../dist/cli/main.js', import.meta.url);
let main;
try {
  ({ main } = await import(entry.href));
} catch (e) {
  // Only dist/ itself missing gets the hint; any other failure is reported as it is.
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes(entry.pathname)) throw e;
  process.stderr.write('capframe: dist/ is missing: run `npm run build` in the capframe package first\n');
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
