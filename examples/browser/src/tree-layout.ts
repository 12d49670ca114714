/** Where each node of a draft tree is drawn: its column (depth) and row. */
export interface TreeLayout {
  depth: number[];
  row: number[];
  rows: number;
  maxDepth: number;
}

/**
 * Lays out a tree given by parent indices (node 0 the root, parents before children, siblings
 * best first): columns are depths; each leaf gets its own row, in depth-first order; a parent
 * sits on its first (best) child's row, so the draft's most likely continuation reads as a
 * straight line along the top.
 */
export function layoutTree(parents: readonly number[]): TreeLayout {
  const n = parents.length;
  const children: number[][] = Array.from({ length: n }, () => []);
  const depth = new Array<number>(n).fill(0);
  for (let i = 1; i < n; i++) {
    children[parents[i]].push(i);
    depth[i] = depth[parents[i]] + 1;
  }
  const row = new Array<number>(n).fill(0);
  let rows = 0;
  // Iterative depth-first walk: children are visited in order, then the parent takes the first one's row.
  const stack: Array<[node: number, next: number]> = n > 0 ? [[0, 0]] : [];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [node, next] = top;
    if (next < children[node].length) {
      top[1]++;
      stack.push([children[node][next], 0]);
      continue;
    }
    stack.pop();
    row[node] = children[node].length === 0 ? rows++ : row[children[node][0]];
  }
  return { depth, row, rows, maxDepth: n > 0 ? Math.max(...depth) : 0 };
}

/** A token's text as a label: whitespace made visible, long tokens shortened. */
export function tokenLabel(text: string, maxLength = 10): string {
  const visible = text.replace(/\n/g, '⏎').replace(/\t/g, '⇥').replace(/ /g, '·');
  return visible.length > maxLength ? `${visible.slice(0, maxLength - 1)}…` : visible || '∅';
}
