import { z } from 'zod';
import { ApiError } from './api-error.js';

const nullish = <T extends z.ZodType>(schema: T) => schema.nullable().optional();

/** The `treespec` extension object of a request. */
const treespecExtension = z.strictObject({
  /** One of the drafters the server loaded, or `none` for plain decoding. */
  drafter: z.string().min(1).optional(),
  /**
   * A tree budget for this request's model drafter, in EAGLE's conventions, within the capacity
   * the server loaded; drafted whole every step (no budget controller).
   */
  tree: z
    .strictObject({
      topK: z.number().int().min(1).optional(),
      frontier: z.number().int().min(1).optional(),
      depth: z.number().int().min(0).optional(),
      totalTokens: z.number().int().min(2).optional(),
    })
    .optional(),
});

/** Sampling and streaming fields both endpoints share, with OpenAI's ranges. */
const sharedFields = {
  model: z.string().min(1),
  stream: nullish(z.boolean()),
  // `include_obfuscation` pads streamed chunks against side channels on OpenAI's network; read
  // and ignored here, as vLLM does.
  stream_options: nullish(
    z.strictObject({ include_usage: z.boolean().optional(), include_obfuscation: z.boolean().optional() }),
  ),
  temperature: nullish(z.number().min(0).max(2)),
  top_p: nullish(z.number().gt(0).max(1)),
  max_tokens: nullish(z.number().int().min(1)),
  seed: nullish(z.number().int().min(0).max(0xffffffff)),
  stop: nullish(z.union([z.string().min(1), z.array(z.string().min(1)).max(16)])),
  presence_penalty: nullish(z.number().min(-2).max(2)),
  frequency_penalty: nullish(z.number().min(-2).max(2)),
  n: nullish(z.literal(1)),
  user: nullish(z.string()),
  top_k: nullish(z.number().int().min(-1)),
  min_p: nullish(z.number().min(0).max(1)),
  repetition_penalty: nullish(z.number().gt(0)),
  treespec: nullish(treespecExtension),
};

const textPart = z.strictObject({ type: z.literal('text'), text: z.string() });

const chatMessage = z.strictObject({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(textPart)]).nullable(),
  name: z.string().optional(),
});

/** The body of `POST /v1/chat/completions` that treespec serves. */
export const chatCompletionRequest = z.strictObject({
  ...sharedFields,
  messages: z.array(chatMessage).min(1),
  max_completion_tokens: nullish(z.number().int().min(1)),
  logprobs: nullish(z.literal(false)),
  top_logprobs: nullish(z.literal(0)),
  response_format: nullish(z.strictObject({ type: z.literal('text') })),
  // Read and ignored, as vLLM does: storing completions and their metadata is OpenAI's platform,
  // and there are no tools to call in parallel.
  store: nullish(z.boolean()),
  metadata: nullish(z.record(z.string(), z.string())),
  parallel_tool_calls: nullish(z.boolean()),
});

const tokenIds = z.array(z.number().int().min(0)).min(1);

/** The body of `POST /v1/completions` that treespec serves: one prompt, text or token ids. */
export const completionRequest = z.strictObject({
  ...sharedFields,
  prompt: z.union([z.string(), z.array(z.string()).length(1), tokenIds, z.array(tokenIds).length(1)]),
  echo: nullish(z.literal(false)),
  best_of: nullish(z.literal(1)),
  logprobs: z.null().optional(),
  suffix: nullish(z.null()),
});

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequest>;
export type CompletionRequest = z.infer<typeof completionRequest>;
export type ChatMessageInput = z.infer<typeof chatMessage>;

/** A value's JSON type, as an error message names it: `null`, `array`, `object`, `string`, … */
function jsonType(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/** What `body` holds at `path`; `found` is false where a key on the way is absent. */
function valueAt(body: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let value = body;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) {
      return { found: false, value: undefined };
    }
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return { found: true, value };
}

/**
 * Whether `issue` says that `value` (what the body holds at the issue's path) has the wrong JSON
 * type, rather than a value of the right type outside what is allowed: a type zod expected and
 * did not get (a decimal for an integer included), a literal or option of another type (`2` for
 * `logprobs: false`), or a union every branch of which failed on a type.
 */
function wrongType(issue: z.core.$ZodIssue, value: unknown): boolean {
  switch (issue.code) {
    case 'invalid_type':
      return true;
    case 'invalid_value':
      return issue.values.every((allowed) => jsonType(allowed) !== jsonType(value));
    case 'invalid_union':
      return (
        issue.errors.length > 0 &&
        issue.errors.every(
          (branch) =>
            branch.length > 0 && branch.every((inner) => wrongType(inner, valueAt(value, inner.path).value)),
        )
      );
    default:
      return false;
  }
}

/**
 * Parses a request body with `schema`, or throws the 400 OpenAI would send for its first problem,
 * with OpenAI's error codes: `missing_required_parameter` for a required field the body lacks,
 * `invalid_type` for a field of the wrong JSON type (`"max_tokens": "ten"`, `"max_tokens": 1.5`,
 * `"messages": "hi"`), `invalid_value` for a value of the right type out of range or not among
 * those allowed, `unsupported_parameter` for a field treespec does not serve.
 */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(400, 'the request body must be a JSON object', { code: 'invalid_body' });
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`))
    .join('');
  if (issue.code === 'unrecognized_keys') {
    const names = issue.keys.map((key) => (path ? `${path}.${key}` : key));
    throw new ApiError(
      400,
      `unsupported parameter${names.length > 1 ? 's' : ''}: ${names.join(', ')} (treespec serves text generation only; see docs/serve.md)`,
      {
        param: names[0]!,
        code: 'unsupported_parameter',
      },
    );
  }
  // zod 4 leaves the input out of its issues (unless asked to put it in), so what the body holds
  // there is read from the body itself: an absent key is a missing field, whatever the issue.
  const given = valueAt(body, issue.path);
  if (!given.found) {
    throw new ApiError(400, `Missing required parameter: '${path}'.`, {
      param: path,
      code: 'missing_required_parameter',
    });
  }
  const code = wrongType(issue, given.value) ? 'invalid_type' : 'invalid_value';
  throw new ApiError(400, `${path || 'body'}: ${issue.message}`, { param: path || null, code });
}
