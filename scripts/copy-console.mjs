// Copies the console's static files (console/static/) beside the page modules tsc wrote to dist/ui/.
import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, 'dist/ui'), { recursive: true });
cpSync(join(root, 'console/static'), join(root, 'dist/ui'), { recursive: true });
