import { UsageMeter } from './usage-meter';

const CHAT = '/chat/completions';
const usageChunk = (usage: unknown) => JSON.stringify({ id: 'c', choices: [], usage });

describe('UsageMeter', () => {
  it('asks a stream for its usage, keeping the stream options the client sent', () => {
    const { upstreamBody } = UsageMeter.of(CHAT, { model: 'm', stream: true, stream_options: { continuous_usage_stats: false } });
    expect(upstreamBody.stream_options).toEqual({ continuous_usage_stats: false, include_usage: true });
    expect(UsageMeter.of(CHAT, { model: 'm' }).upstreamBody).toEqual({ model: 'm' });
    expect(UsageMeter.of('/embeddings', { model: 'm', stream: true }).upstreamBody).toEqual({ model: 'm', stream: true });
  });

  it('holds the usage chunk back from a client that did not ask for it, and passes it to one that did', () => {
    const unasked = UsageMeter.of(CHAT, { stream: true }).meter;
    expect(unasked.event('{"choices":[{"delta":{"content":"hi"}}]}')).toBe(true);
    expect(unasked.event(usageChunk({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 }))).toBe(false);
    expect(unasked.usage).toEqual({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });
    const asked = UsageMeter.of(CHAT, { stream: true, stream_options: { include_usage: true } }).meter;
    expect(asked.event(usageChunk({ prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }))).toBe(true);
  });

  it('passes chunks with choices even when they carry usage (continuous usage stats), counting the last', () => {
    const { meter } = UsageMeter.of(CHAT, { stream: true });
    const chunk = (completion: number) =>
      JSON.stringify({
        choices: [{ delta: { content: 'x' } }],
        usage: { prompt_tokens: 2, completion_tokens: completion, total_tokens: 2 + completion },
      });
    expect([meter.event(chunk(1)), meter.event(chunk(2))]).toEqual([true, true]);
    expect(meter.usage?.completion_tokens).toBe(2);
  });

  it('ignores usage that is not counts: null, negative, fractional, huge, strings, or text that is not JSON', () => {
    const { meter } = UsageMeter.of(CHAT, { stream: true });
    for (const usage of [null, { prompt_tokens: -1 }, { prompt_tokens: 1.5 }, { prompt_tokens: 1e12 }, { prompt_tokens: '7' }, []]) {
      expect(meter.event(usageChunk(usage))).toBe(true);
    }
    expect(meter.event('{"usage": oops')).toBe(true);
    expect(meter.usage).toBeUndefined();
  });

  it('reads a non-streamed answer, an embedding without completion tokens included', () => {
    const { meter } = UsageMeter.of('/embeddings', { input: 'a b' });
    meter.answer({ data: [], usage: { prompt_tokens: 2, total_tokens: 2 } });
    expect(meter.usage).toEqual({ prompt_tokens: 2, completion_tokens: 0, total_tokens: 2 });
    meter.answer({ usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 1 } });
    expect(meter.usage?.total_tokens).toBe(5);
  });
});
