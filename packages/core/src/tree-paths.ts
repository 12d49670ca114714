import type { DraftTree } from './draft-tree.js';

/**
 * Every root-to-leaf path of the tree, each as the node indices from the root (0) to a leaf,
 * in the order the leaves appear. Meant for inspection, drawing and tests, not the hot path.
 */
export function rootToLeafPaths(tree: DraftTree): Int32Array[] {
  const n = tree.size;
  const hasChild = new Uint8Array(n);
  for (let i = 1; i < n; i++) hasChild[tree.parents[i]] = 1;
  const paths: Int32Array[] = [];
  for (let leaf = 0; leaf < n; leaf++) {
    if (hasChild[leaf] === 1) continue;
    const path = new Int32Array(tree.depths[leaf] + 1);
    for (let node = leaf, k = path.length - 1; node >= 0; node = tree.parents[node], k--) path[k] = node;
    paths.push(path);
  }
  return paths;
}
