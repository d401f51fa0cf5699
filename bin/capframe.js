#!/usr/bin/env node
// The capframe CLI. `npm run build` (run by `npm install`/`npm ci` through `prepare`) creates dist/.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
