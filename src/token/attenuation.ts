/** The attenuation rule for grants (docs/spec.md §3.3 rule 3, §6.3): what a child may hold given its parent. */
import type { FormatVersion, ResolvedGrant } from './block.ts';
import { covers } from './policy/covers.ts';
import { limitsCovered } from './grant-limits.ts';
import { patternCovers } from './resource.ts';
import { gateCovered } from './approval.ts';

/**
 * Is `child` within some grant of `parent`? Pattern covered and permissions a
 * subset (both versions); in format version 2 also: the child's tools a
 * subset of the parent's (a parent without tools allows any), closed kept
 * closed, limits only tightened (§14.4), the parent's approval gate kept
 * (approvers a subset, threshold at least as high, §15.1), and each
 * constraint the child puts on a path the parent also constrains covered by
 * the parent's.
 */
export function grantCovered(child: ResolvedGrant, parent: readonly ResolvedGrant[], version: FormatVersion = 1): boolean {
  return parent.some((p) => {
    if (!patternCovers(p.pattern, child.pattern) || !child.permissions.every((x) => p.permissions.includes(x))) return false;
    if (version === 1) return true;
    if (p.tools !== undefined && (child.tools === undefined || !child.tools.every((t) => p.tools!.includes(t)))) return false;
    if (p.closed && !child.closed) return false;
    if ((p.rate || p.budget) && !limitsCovered(child, p)) return false;
    // An approval gate may be tightened (fewer approvers, higher threshold), never dropped (spec §15.1).
    if (p.approval !== undefined && !gateCovered(p.approval, child.approval)) return false;
    if (p.constraints && child.constraints) {
      for (const k of Object.keys(child.constraints)) {
        if (Object.prototype.hasOwnProperty.call(p.constraints, k) && !covers(p.constraints[k]!, child.constraints[k]!)) return false;
      }
    }
    return true;
  });
}
