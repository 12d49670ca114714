import type { ToyLanguageModel } from './toy-model.js';

/**
 * Plain greedy decoding of a toy model written as directly as possible, independent of the
 * decoder: the reference that speculative output must equal token for token.
 */
export function referenceGreedy(
  model: ToyLanguageModel,
  prompt: ArrayLike<number>,
  options: {
    maxTokens: number;
    eosTokenIds?: readonly number[];
    stopSequences?: readonly (readonly number[])[];
  },
): Int32Array {
  const tokens = Array.from(prompt);
  const logits = new Float32Array(model.vocabSize);
  const out: number[] = [];
  while (out.length < options.maxTokens) {
    model.logits(tokens, tokens.length, logits, 0);
    let best = 0;
    for (let v = 1; v < model.vocabSize; v++) if (logits[v] > logits[best]) best = v;
    tokens.push(best);
    out.push(best);
    if (options.eosTokenIds?.includes(best)) break;
    const stop = options.stopSequences?.find(
      (seq) => seq.length <= out.length && seq.every((t, i) => out[out.length - seq.length + i] === t),
    );
    if (stop) {
      out.length -= stop.length;
      break;
    }
  }
  return Int32Array.from(out);
}
