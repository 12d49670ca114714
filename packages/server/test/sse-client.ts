/** A streamed completion read with fetch: its text, whether it reached [DONE], any error event. */
export interface StreamedCompletion {
  text: string;
  done: boolean;
  error: unknown;
  /** Text events received. */
  events: number;
  /** `usage.completion_tokens` of the usage chunk (0 without `stream_options.include_usage`). */
  completionTokens: number;
  /** The `finish_reason` of the finishing chunk (null until one comes). */
  finishReason: string | null;
}

/**
 * Posts a streaming text completion and reads its server-sent events; with `disconnectAfter`,
 * aborts the request after that many text events (a client that goes away mid-stream).
 */
export async function streamCompletion(
  base: string,
  body: object,
  options: { disconnectAfter?: number; headers?: Record<string, string> } = {},
): Promise<StreamedCompletion> {
  const controller = new AbortController();
  const response = await fetch(`${base}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: JSON.stringify({ ...body, stream: true }),
    signal: controller.signal,
  });
  if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
  const result: StreamedCompletion = {
    text: '',
    done: false,
    error: null,
    events: 0,
    completionTokens: 0,
    finishReason: null,
  };
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    const reader = response.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
        const data = event.replace(/^data: /, '');
        if (data === '[DONE]') {
          result.done = true;
          continue;
        }
        const parsed = JSON.parse(data) as {
          choices?: Array<{ text: string; finish_reason?: string | null }>;
          error?: unknown;
          usage?: { completion_tokens: number } | null;
        };
        if (parsed.error) result.error = parsed.error;
        if (parsed.usage) result.completionTokens = parsed.usage.completion_tokens;
        const reason = parsed.choices?.[0]?.finish_reason;
        if (reason) result.finishReason = reason;
        const text = parsed.choices?.[0]?.text ?? '';
        if (text.length > 0) {
          result.text += text;
          result.events++;
          if (options.disconnectAfter !== undefined && result.events >= options.disconnectAfter) {
            controller.abort();
            return result;
          }
        }
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
  return result;
}
