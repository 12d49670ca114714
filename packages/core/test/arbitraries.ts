import fc from 'fast-check';
import { DraftTree } from '../src/index.js';

/** A random tree: node i > 0 picks a parent among the nodes before it. */
export const arbitraryTree = (maxSize = 40): fc.Arbitrary<DraftTree> =>
  fc
    .array(
      fc.tuple(
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 0, max: 999 }),
      ),
      {
        minLength: 0,
        maxLength: maxSize - 1,
      },
    )
    .map((picks) => {
      const tree = new DraftTree(picks.length + 1);
      tree.reset(7);
      picks.forEach(([r, token], k) => {
        const i = k + 1;
        tree.add(Math.floor(r * i), token, -i);
      });
      return tree;
    });

/** The ancestors of `node` (itself included), by walking parents. */
export function ancestorsOf(tree: DraftTree, node: number): Set<number> {
  const out = new Set<number>();
  for (let n = node; n >= 0; n = tree.parents[n]) out.add(n);
  return out;
}

/** A path from the root that follows, at each node, child number `choice % children` while there are children. */
export function randomWalk(tree: DraftTree, choices: readonly number[]): number[] {
  const path = [0];
  for (const c of choices) {
    const last = path[path.length - 1];
    const kids = Array.from({ length: tree.size }, (_, i) => i).filter(
      (i) => i > 0 && tree.parents[i] === last,
    );
    if (kids.length === 0) break;
    path.push(kids[c % kids.length]);
  }
  return path;
}
