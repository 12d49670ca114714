import { readFileSync } from 'node:fs';
import { tinyDevPrompts, tinyModelDirectory, tinyTestVectorsPath } from '@treespec/model-tiny/node';

/** The embedded tiny model bundle (built by `pnpm build`). */
export const TINY = tinyModelDirectory();

/** The first `n` development prompts. */
export function devPrompts(n: number): Array<{ id: string; prompt: string }> {
  return tinyDevPrompts().slice(0, n);
}

/** The target's PyTorch reference cases (prompt ids, 48 greedy ids, top-1/top-2 margins). */
export function targetCases(): Array<{
  prompt: string;
  prompt_ids: number[];
  greedy_ids: number[];
  top1_top2_margin: number[];
}> {
  return JSON.parse(readFileSync(tinyTestVectorsPath('target'), 'utf8')).cases;
}

/** The head's reference cases. */
export function headCases(): Array<{
  prompt_ids: number[];
  target_next_token: number;
  head_pred_feature_last_first16: number[];
  head_top5_ids: number[];
  head_greedy_chain_ids: number[];
}> {
  return JSON.parse(readFileSync(tinyTestVectorsPath('eagle-head'), 'utf8')).cases;
}
