import { StringDecoder } from 'node:string_decoder';

/** Sees the events of a relayed stream that mention `"usage"`: the gateway counts tokens with them. */
export interface UsageWatcher {
  /** An event's data before it is sent; false holds it back from the client. */
  event(data: string): boolean;
}

/** The end of an SSE event: everything before it can be sent on without cutting an event in two. */
const EVENT_END = Buffer.from('\n\n');
const EMPTY = Buffer.alloc(0);
const DONE = Buffer.from('[DONE]');
const USAGE = Buffer.from('"usage"');
/** The most of one event held back while waiting for its end; a longer one means the stream is not plain SSE. */
const MAX_PENDING_EVENT = 1024 * 1024;

/**
 * Turns a model server's streamed body into what its client gets: `data: …\n\n` events ending with `data: [DONE]`.
 *
 * A body of plain SSE events (`data: …` separated by blank lines, as vLLM, SGLang, TGI and OpenAI send) is passed on
 * as the bytes it came in, cut only at event ends: no decoding or re-encoding, so a stream costs the backend almost
 * nothing per token. Only pieces that mention `[DONE]` or, with a watcher, `"usage"` are taken apart event by event.
 * Anything else (JSON lines without `data: `, CRLF line ends, other SSE fields) is normalised line by line.
 */
export class EventStreamRelay {
  private mode: 'undecided' | 'events' | 'lines' = 'undecided';
  /** The start of an event whose end has not come yet (events mode). */
  private pending: Buffer = EMPTY;
  /** Lines mode: the text after the last line end, and the decoder keeping multi-byte characters whole. */
  private partialLine = '';
  private readonly decoder = new StringDecoder('utf8');
  private finished = false;

  constructor(private readonly watcher?: UsageWatcher) {}

  /** Whether the model server's `[DONE]` has been relayed (whatever follows it is dropped). */
  get done(): boolean {
    return this.finished;
  }

  /** What to send the client for one upstream chunk; may be empty. */
  push(chunk: Buffer): Buffer | string {
    if (this.finished) return '';
    if (this.mode === 'undecided') this.mode = looksLikeEvents(chunk) ? 'events' : 'lines';
    if (this.mode === 'lines') return this.lines(chunk);
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const end = data.lastIndexOf(EVENT_END);
    if (end < 0) {
      if (data.length <= MAX_PENDING_EVENT) {
        this.pending = data;
        return '';
      }
      this.pending = EMPTY;
      this.mode = 'lines';
      return this.lines(data);
    }
    const cut = end + EVENT_END.length;
    this.pending = cut === data.length ? EMPTY : data.subarray(cut);
    const complete = cut === data.length ? data : data.subarray(0, cut);
    const mustRead = complete.includes(DONE) || (this.watcher !== undefined && complete.includes(USAGE));
    return mustRead ? this.eventsOf(complete.toString('utf8').split('\n')) : complete;
  }

  /** What is left to send when the upstream body ended. */
  end(): string {
    if (this.finished) return '';
    const rest = this.mode === 'lines' ? this.partialLine + this.decoder.end() : this.pending.toString('utf8');
    this.partialLine = '';
    this.pending = EMPTY;
    return this.eventsOf(rest.split('\n'));
  }

  private lines(chunk: Buffer): string {
    const lines = (this.partialLine + this.decoder.write(chunk)).split('\n');
    this.partialLine = lines.pop() ?? '';
    return this.eventsOf(lines);
  }

  /** The events of whole lines, normalised to `data: …\n\n`, up to and including `[DONE]`. */
  private eventsOf(lines: string[]): string {
    let events = '';
    for (const line of lines) {
      const event = toEvent(line);
      if (event === undefined || this.finished) continue;
      if (this.watcher && event.includes('"usage"') && !this.watcher.event(event)) continue;
      if (event === '[DONE]') this.finished = true;
      events += `data: ${event}\n\n`;
    }
    return events;
  }
}

/** Whether a body starts as plain SSE: a `data:` field, with LF line ends (a CRLF stream is normalised instead). */
function looksLikeEvents(chunk: Buffer): boolean {
  const text = chunk.subarray(0, 256).toString('latin1').trimStart();
  return text.startsWith('data:') && !chunk.includes('\r');
}

/** The data of one upstream SSE line; lines sent without the `data: ` prefix get it. Other SSE fields are dropped. */
function toEvent(rawLine: string): string | undefined {
  const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
  if (line.trim() === '') return undefined;
  if (line.startsWith('data:')) return line.slice(5).trimStart();
  if (/^(:|event:|id:|retry:)/.test(line)) return undefined;
  return line;
}
