import type { GenerationStats } from '@treespec/core';
import type { TextResult } from '@treespec/generator';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { openAiFinishReason } from './completion-response.js';
import type { GenerationSlot } from './generation-slot.js';

const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80];

/**
 * The server's Prometheus metrics, under the names vLLM exports (`vllm:spec_decode_*` for
 * speculative decoding, `vllm:*_tokens_total`, the latency histograms, `http_requests_total`), so
 * dashboards built for vLLM read a treespec server unchanged, and the standard `process_*` and
 * `nodejs_*` metrics (resident memory among them). One registry per server.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly labels: { model_name: string };
  private readonly success: Counter<'model_name' | 'finished_reason'>;
  private readonly promptTokens: Counter<'model_name'>;
  private readonly generationTokens: Counter<'model_name'>;
  private readonly e2eLatency: Histogram<'model_name'>;
  private readonly firstToken: Histogram<'model_name'>;
  private readonly queueTime: Histogram<'model_name'>;
  private readonly drafts: Counter<'model_name'>;
  private readonly draftTokens: Counter<'model_name'>;
  private readonly acceptedTokens: Counter<'model_name'>;
  private readonly acceptedPerPosition: Counter<'model_name' | 'position'>;
  private readonly http: Counter<'handler' | 'method' | 'status'>;

  constructor(modelName: string, slot: GenerationSlot) {
    this.labels = { model_name: modelName };
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const model = ['model_name'] as const;
    new Gauge({
      name: 'vllm:num_requests_running',
      help: 'Requests generating now (0 or 1: one generation at a time per model).',
      labelNames: model,
      registers,
      collect() {
        this.set({ model_name: modelName }, slot.running ? 1 : 0);
      },
    });
    new Gauge({
      name: 'vllm:num_requests_waiting',
      help: 'Requests waiting in the queue.',
      labelNames: model,
      registers,
      collect() {
        this.set({ model_name: modelName }, slot.waiting);
      },
    });
    this.success = new Counter({
      name: 'vllm:request_success_total',
      help: 'Requests that finished generating, by finish reason.',
      labelNames: ['model_name', 'finished_reason'],
      registers,
    });
    this.promptTokens = new Counter({
      name: 'vllm:prompt_tokens_total',
      help: 'Prompt tokens processed.',
      labelNames: model,
      registers,
    });
    this.generationTokens = new Counter({
      name: 'vllm:generation_tokens_total',
      help: 'Tokens generated.',
      labelNames: model,
      registers,
    });
    this.e2eLatency = new Histogram({
      name: 'vllm:e2e_request_latency_seconds',
      help: 'Time from a request arriving to its last token, queueing included.',
      labelNames: model,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.firstToken = new Histogram({
      name: 'vllm:time_to_first_token_seconds',
      help: 'Time from a request arriving to its first token: the first streamed text, or the first verification step of a request not streamed.',
      labelNames: model,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.queueTime = new Histogram({
      name: 'vllm:request_queue_time_seconds',
      help: 'Time a request waited for the generation slot.',
      labelNames: model,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.drafts = new Counter({
      name: 'vllm:spec_decode_num_drafts_total',
      help: 'Draft trees verified (one per speculative step).',
      labelNames: model,
      registers,
    });
    this.draftTokens = new Counter({
      name: 'vllm:spec_decode_num_draft_tokens_total',
      help: 'Draft tokens verified (tree nodes, the root excluded).',
      labelNames: model,
      registers,
    });
    this.acceptedTokens = new Counter({
      name: 'vllm:spec_decode_num_accepted_tokens_total',
      help: 'Draft tokens accepted.',
      labelNames: model,
      registers,
    });
    this.acceptedPerPosition = new Counter({
      name: 'vllm:spec_decode_num_accepted_tokens_per_pos_total',
      help: 'Draft tokens accepted at each position (depth - 1) of the accepted path.',
      labelNames: ['model_name', 'position'],
      registers,
    });
    this.http = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by handler, method and status.',
      labelNames: ['handler', 'method', 'status'],
      registers,
    });
  }

  /** Counts an answered HTTP request. */
  countHttp(handler: string, method: string, status: number): void {
    this.http.inc({ handler, method, status: String(status) });
  }

  /** Records how long a request waited for the slot. */
  observeQueueTime(seconds: number): void {
    this.queueTime.observe(this.labels, seconds);
  }

  /**
   * Records a request's time to first token, queueing included: to its first streamed text, or for
   * a request not streamed to its generation's first verification step (which commits its first
   * token). Every request that generates records one, streamed or not, as vLLM does.
   */
  observeFirstToken(seconds: number): void {
    this.firstToken.observe(this.labels, seconds);
  }

  /** Records a finished generation: tokens, latency, and what speculation drafted and accepted. */
  observeGeneration(result: TextResult, latencySeconds: number, speculative: boolean): void {
    this.success.inc({ ...this.labels, finished_reason: openAiFinishReason(result.finishReason) });
    this.promptTokens.inc(this.labels, result.promptTokens.length);
    this.generationTokens.inc(this.labels, result.tokens.length);
    this.e2eLatency.observe(this.labels, latencySeconds);
    if (speculative) this.observeSpeculation(result.stats);
  }

  private observeSpeculation(stats: GenerationStats): void {
    if (stats.steps === 0) return;
    this.drafts.inc(this.labels, stats.steps);
    this.draftTokens.inc(this.labels, Math.round(stats.steps * Math.max(0, stats.meanTreeSize - 1)));
    const lengths = stats.acceptedLengths;
    let accepted = 0;
    let atOrDeeper = 0;
    for (let k = lengths.length - 1; k >= 1; k--) {
      accepted += k * lengths[k]!;
      atOrDeeper += lengths[k]!;
      this.acceptedPerPosition.inc({ ...this.labels, position: String(k - 1) }, atOrDeeper);
    }
    this.acceptedTokens.inc(this.labels, accepted);
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
