import type { Ed25519Backend } from './backend.ts';
import { nodeBackend } from './node.ts';

let current: Ed25519Backend | undefined;

/** The process-wide default backend (node:crypto), created on first use. */
export function defaultBackend(): Ed25519Backend {
  current ??= nodeBackend();
  return current;
}
