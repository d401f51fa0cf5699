/** The attenuation rule for grants (docs/spec.md §6): what a child may hold given its parent. */
import type { ResolvedGrant } from './block.ts';
import { patternCovers } from './resource.ts';

/** Is `child` within some grant of `parent` (pattern covered, permissions a subset)? */
export function grantCovered(child: ResolvedGrant, parent: readonly ResolvedGrant[]): boolean {
  return parent.some((p) => patternCovers(p.pattern, child.pattern) && child.permissions.every((x) => p.permissions.includes(x)));
}

