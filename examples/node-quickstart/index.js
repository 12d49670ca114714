import { tinyModelDirectory } from '@treespec/model-tiny/node';
import { loadTreespec } from '@treespec/node';

// The embedded tiny model: a Llama target, its EAGLE-2 head and the tokenizer, converted to ONNX.
const generator = await loadTreespec(tinyModelDirectory());
const prompt = 'The history of the city begins in the early nineteenth century, when';

const stream = generator.stream(prompt, { maxTokens: 64 }); // greedy; pass temperature, topP, seed to sample
for await (const text of stream) process.stdout.write(text);
const { stats } = await stream.result;
console.log(
  `\n\n${stats.generatedTokens} tokens, ${stats.tokensPerSecond.toFixed(0)} tok/s, ` +
    `${stats.tau.toFixed(2)} tokens per target call`,
);

if (process.argv.includes('--check')) {
  const plain = await generator.generate(prompt, { maxTokens: 64, plain: true });
  const spec = await generator.generate(prompt, { maxTokens: 64 });
  if (plain.text !== spec.text || stats.tau <= 1)
    throw new Error('speculative output differs from plain decoding');
}
await generator.dispose();
