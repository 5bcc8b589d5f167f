import { EventStreamRelay } from './event-stream-relay';

const relayAll = (relay: EventStreamRelay, chunks: (string | Buffer)[]) =>
  chunks.map((chunk) => relay.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)).toString()).join('') + relay.end();

describe('EventStreamRelay', () => {
  it('passes plain SSE on as the very bytes that came, cut only at event ends', () => {
    const relay = new EventStreamRelay();
    const chunk = Buffer.from('data: {"a":1}\n\ndata: {"a":2}\n\n');
    expect(relay.push(chunk)).toBe(chunk);
    expect(relay.push(Buffer.from('data: {"a":3}\n\ndata: {"a"')).toString()).toBe('data: {"a":3}\n\n');
    expect(relay.push(Buffer.from(':4}\n\n')).toString()).toBe('data: {"a":4}\n\n');
    expect(relay.end()).toBe('');
    expect(relay.done).toBe(false);
  });

  it('ends at the first [DONE], dropping what follows it', () => {
    const relay = new EventStreamRelay();
    expect(relayAll(relay, ['data: {"a":1}\n\ndata: [DONE]\n\ndata: {"late":true}\n\n', 'data: {"later":true}\n\n'])).toBe(
      'data: {"a":1}\n\ndata: [DONE]\n\n',
    );
    expect(relay.done).toBe(true);
  });

  it('normalises JSON lines, CRLF line ends and other SSE fields to data events', () => {
    expect(relayAll(new EventStreamRelay(), ['{"a":1}\n{"a"', ':2}\n'])).toBe('data: {"a":1}\n\ndata: {"a":2}\n\n');
    expect(relayAll(new EventStreamRelay(), ['data: {"a":1}\r\n\r\nevent: x\r\nid: 7\r\n: ping\r\ndata:[DONE]\r\n\r\n'])).toBe(
      'data: {"a":1}\n\ndata: [DONE]\n\n',
    );
  });

  it('keeps a character split between chunks whole', () => {
    const bytes = Buffer.from('{"t":"é"}\n');
    const split = bytes.indexOf(0xa9);
    expect(relayAll(new EventStreamRelay(), [bytes.subarray(0, split), bytes.subarray(split)])).toBe('data: {"t":"é"}\n\n');
  });

  it('shows the watcher only the events that mention usage, and drops those it refuses', () => {
    const seen: string[] = [];
    const relay = new EventStreamRelay({ event: (data) => (seen.push(data), !data.includes('"choices":[]')) });
    const out = relayAll(relay, ['data: {"choices":[{"x":1}]}\n\n', 'data: {"choices":[],"usage":{"prompt_tokens":1}}\n\ndata: [DONE]\n\n']);
    expect(out).toBe('data: {"choices":[{"x":1}]}\n\ndata: [DONE]\n\n');
    expect(seen).toEqual(['{"choices":[],"usage":{"prompt_tokens":1}}']);
  });

  it('sends a last event that lacks its blank line at the end', () => {
    expect(relayAll(new EventStreamRelay(), ['data: {"a":1}\n\ndata: {"a":2}'])).toBe('data: {"a":1}\n\ndata: {"a":2}\n\n');
  });

  it('holds at most 1 MiB waiting for an event end, then reads the rest line by line', () => {
    const relay = new EventStreamRelay();
    expect(relay.push(Buffer.from('data: {"a":1}\n'))).toBe('');
    const out = relay.push(Buffer.from(`data: "${'x'.repeat(1024 * 1024)}"\n`)).toString();
    expect(out.startsWith('data: {"a":1}\n\ndata: "xxx')).toBe(true);
    expect(relay.push(Buffer.from('data: {"b":2}\n'))).toBe('data: {"b":2}\n\n');
  });
});
