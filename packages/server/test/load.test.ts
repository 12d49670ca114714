import type { TextGenerator } from '@treespec/generator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOAD_PROMPTS, type LoadPlan, runLoad, serialAnswers } from '../bench/load-run.js';
import { createServer, type TreespecServer } from '../src/index.js';
import { loadTinyGenerator } from './tiny.js';

// A lighter run of bench/load.ts (which does 32 clients × 3 requests × 64 tokens).
const PLAN: LoadPlan = {
  clients: 12,
  requestsPerClient: 2,
  maxTokens: 24,
  prompts: LOAD_PROMPTS.slice(0, 6),
  disconnectEvery: 3,
};

let generator: TextGenerator;
let server: TreespecServer;
let base: string;

beforeAll(async () => {
  generator = await loadTinyGenerator();
  server = createServer(generator, { modelId: 'tiny' });
  base = await server.listen({ port: 0 });
});

afterAll(async () => {
  await server.close();
  await generator.dispose();
});

describe('concurrent streaming clients on loopback', () => {
  it('answers every request with its serial answer while a third of the clients drop one mid-stream', async () => {
    const answers = await serialAnswers(base, 'tiny', PLAN);
    for (const [i, prompt] of PLAN.prompts.entries()) {
      expect(answers[i]).toBe(
        (await generator.generate(prompt, { maxTokens: PLAN.maxTokens, temperature: 0 })).text,
      );
    }
    const report = await runLoad(base, 'tiny', PLAN, answers);
    expect(report.disconnected).toBe(4);
    expect(report.completed).toBe(PLAN.clients * PLAN.requestsPerClient - 4);
    expect(report.failed).toBe(0);
    expect(report.mismatched).toBe(0);
    expect(report.completionTokens).toBe(report.completed * PLAN.maxTokens);
    expect(report.slotAfter).toEqual({ running: 0, waiting: 0 });
  });
});
