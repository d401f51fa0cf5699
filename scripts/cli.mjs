// `npm run cli -- COMMAND ...`: the capframe CLI inside a clone, where npm does not link
// a package's own bin (so `npx capframe` cannot find it). Runs bin/capframe.js, that is
// the built dist/ an installed package runs, rather than tsx over src/: the same code
// as users get, and no transpiler start-up. `npm install` builds dist/ (prepare);
// rebuild with `npm run build` after editing src/. Relative paths are taken from the
// directory npm was started in (INIT_CWD), not the package root npm runs scripts in.
if (process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);
await import('../bin/capframe.js');
