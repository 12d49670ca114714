import type { TreeSnapshot } from '@treespec/web';
import { layoutTree, tokenLabel } from './tree-layout.js';

const SVG = 'http://www.w3.org/2000/svg';
const NODE_W = 78;
const NODE_H = 22;
const COL = 104;
const ROW = 28;
const PAD = 8;

function el<K extends keyof SVGElementTagNameMap>(
  name: K,
  attrs: Record<string, string | number>,
  parent: Element,
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  parent.appendChild(node);
  return node;
}

/**
 * Draws one verified draft tree as SVG: each node a box with its token, edges from parents,
 * the root (the last kept token) plain, the accepted draft tokens highlighted and the target's
 * bonus token after them (dashed).
 */
export function renderTree(svg: SVGSVGElement, tree: TreeSnapshot): void {
  const layout = layoutTree(tree.parents);
  const accepted = new Set(tree.path);
  const last = tree.path[tree.path.length - 1] ?? 0;
  const width = PAD * 2 + (layout.maxDepth + 1) * COL + NODE_W;
  const height = PAD * 2 + Math.max(layout.rows, 1) * ROW;
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.dataset.step = String(tree.step);
  const x = (i: number) => PAD + layout.depth[i] * COL;
  const y = (i: number) => PAD + layout.row[i] * ROW;
  const edges = el('g', { class: 'edges' }, svg);
  for (let i = 1; i < tree.parents.length; i++) {
    const p = tree.parents[i];
    const onPath = accepted.has(i) && accepted.has(p);
    el(
      'path',
      {
        class: onPath ? 'edge accepted' : 'edge',
        d: `M${x(p) + NODE_W},${y(p) + NODE_H / 2} C${x(i) - 16},${y(p) + NODE_H / 2} ${x(p) + NODE_W + 16},${y(i) + NODE_H / 2} ${x(i)},${y(i) + NODE_H / 2}`,
      },
      edges,
    );
  }
  const nodes = el('g', { class: 'nodes' }, svg);
  const box = (cls: string, bx: number, by: number, text: string, title: string) => {
    const g = el('g', { class: cls, transform: `translate(${bx},${by})` }, nodes);
    el('title', {}, g).textContent = title;
    el('rect', { width: NODE_W, height: NODE_H, rx: 5 }, g);
    el('text', { x: NODE_W / 2, y: NODE_H / 2 + 4, 'text-anchor': 'middle' }, g).textContent = text;
  };
  for (let i = 0; i < tree.tokens.length; i++) {
    // The root is the last token already kept, not a draft: it has its own style, never "accepted".
    const cls = i === 0 ? 'node root' : `node${accepted.has(i) ? ' accepted' : ''}`;
    box(
      cls,
      x(i),
      y(i),
      tokenLabel(tree.labels[i]),
      `#${i} token ${tree.tokens[i]} ${JSON.stringify(tree.labels[i])}`,
    );
  }
  const bx = x(last) + COL;
  const by = y(last);
  el(
    'path',
    { class: 'edge bonus', d: `M${x(last) + NODE_W},${by + NODE_H / 2} L${bx},${by + NODE_H / 2}` },
    edges,
  );
  box(
    'node bonus',
    bx,
    by,
    tokenLabel(tree.bonusLabel),
    `bonus: the target's own token ${tree.bonusToken} ${JSON.stringify(tree.bonusLabel)}`,
  );
}
