import type { BenchRow } from './bench.js';

/** A controller's prices by size (`size:ms` pairs), or `none measured` where it timed no step. */
function pricesText(prices: ReadonlyArray<readonly [number, number]>): string {
  return prices.length === 0 ? 'none measured' : prices.map(([n, ms]) => `${n}:${ms.toFixed(1)}`).join(' ');
}

/**
 * The bench's line on a drafter's budget controller: what it decided, what it predicted against
 * what happened, and its prices; null where the drafter ran without a controller.
 */
export function controllerLine(row: Pick<BenchRow, 'controller'>): string | null {
  const c = row.controller;
  if (!c) return null;
  const verify = pricesText(c.costs.verify);
  const draft = pricesText(c.costs.draft);
  // A plain step is timed only after another one the controller decided.
  const plainStep = c.costs.plainStep > 0 ? `${c.costs.plainStep.toFixed(2)} ms` : 'untimed';
  return (
    `decided ${c.steps} of ${c.ofSteps} steps: ` +
    `plain ${(100 * c.plainShare).toFixed(0)}% probes ${(100 * c.probeShare).toFixed(0)}% ` +
    `depth ${c.meanDepth.toFixed(1)} nodes ${c.meanNodes.toFixed(1)} ` +
    `tokens/step predicted ${c.predictedTokensPerStep.toFixed(2)} actual ${c.actualTokensPerStep.toFixed(2)}, ` +
    `ms/step predicted ${c.predictedMsPerStep.toFixed(2)} actual ${c.actualMsPerStep.toFixed(2)} | ` +
    `plain step ${plainStep}, verify ms by nodes ${verify}, draft ms by depth ${draft}, overhead ${c.costs.overhead.toFixed(2)} ms, ` +
    `drafted runs ${c.meanDraftRun.toFixed(1)} steps, starting x${c.costs.starting.toFixed(2)}, entering x${c.costs.entering.toFixed(2)}, leaving x${c.costs.leaving.toFixed(2)}`
  );
}
