import { RelayedEndpoint, RelayWatcher } from '../chat/model-server-proxy.service';

/** Tokens of one answer, as the model server counted them. */
export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** The most tokens one answer is believed to use: a forged or garbled count does not poison the totals. */
const MAX_TOKENS_PER_ANSWER = 100_000_000;
/** `"usage": null`, which OpenAI sends in every chunk but the last when usage is asked for. */
const NULL_USAGE = /"usage"\s*:\s*null\s*[,}]/;
const STREAMING_ENDPOINTS = new Set<RelayedEndpoint>(['/chat/completions', '/completions']);

/**
 * Reads the upstream `usage` of one gateway call as it is relayed. A stream is asked for its usage
 * (`stream_options.include_usage`, which vLLM and OpenAI answer with a last chunk without choices); when the client
 * did not ask for that chunk itself, it is held back, as clients reading `choices[0]` of every chunk would fail on it.
 */
export class UsageMeter implements RelayWatcher {
  private counted?: TokenUsage;
  private broken = false;

  private constructor(private readonly clientWantsUsageChunk: boolean) {}

  /** A meter for the call, and the body to send upstream: with `include_usage` when it streams. */
  static of(endpoint: RelayedEndpoint, body: Record<string, unknown>): { meter: UsageMeter; upstreamBody: Record<string, unknown> } {
    if (!STREAMING_ENDPOINTS.has(endpoint) || body.stream !== true) return { meter: new UsageMeter(true), upstreamBody: body };
    const options = isObject(body.stream_options) ? body.stream_options : {};
    const meter = new UsageMeter(options.include_usage === true);
    return { meter, upstreamBody: { ...body, stream_options: { ...options, include_usage: true } } };
  }

  /** The usage the model server reported; undefined when it reported none (or the answer failed first). */
  get usage(): TokenUsage | undefined {
    return this.counted;
  }

  /** Whether a stream broke off mid-way. */
  get failed(): boolean {
    return this.broken;
  }

  streamFailed(): void {
    this.broken = true;
  }

  event(data: string): boolean {
    // Most events carry no usage, or (OpenAI's) a null one: a quick test spares parsing each of them.
    if (!data.includes('"usage"') || NULL_USAGE.test(data)) return true;
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      return true;
    }
    if (!isObject(chunk)) return true;
    const usage = tokenUsage(chunk.usage);
    if (!usage) return true;
    this.counted = usage;
    return this.clientWantsUsageChunk || !(Array.isArray(chunk.choices) && chunk.choices.length === 0);
  }

  answer(body: unknown): void {
    if (isObject(body)) this.counted = tokenUsage(body.usage);
  }
}

/** An upstream `usage` object as counts; embeddings have no completion tokens. */
function tokenUsage(value: unknown): TokenUsage | undefined {
  if (!isObject(value)) return undefined;
  const prompt = count(value.prompt_tokens);
  const completion = count(value.completion_tokens) ?? 0;
  if (prompt === undefined) return undefined;
  const total = count(value.total_tokens) ?? prompt + completion;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: Math.max(total, prompt + completion) };
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_TOKENS_PER_ANSWER ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
