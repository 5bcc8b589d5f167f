import { readdirSync, readFileSync } from 'node:fs';
import { ClientRequest, request as httpRequest } from 'node:http';
import { startAgentServer, TestAgent } from './agent-server';
import {
  BAD_TEMPERATURE,
  chunkText,
  completionText,
  HTML_PAGE,
  HUGE_ERROR_BYTES,
  INVALID_JSON,
  ModelMode,
  startModelServer,
  TestModelServer,
  UNPROCESSABLE_TEXT,
} from './model-server';
import { until } from './wait';

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

function ignoresSigterm(pid: number): boolean {
  const mask = /^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1];
  return (BigInt(`0x${mask}`) & (1n << 14n)) !== 0n; // bit N-1 for signal N; SIGTERM is 15
}

/** Live (non-zombie) members of a process group, read from /proc. */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // Exited while we were listing.
    }
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') members.push(Number(entry));
  }
  return members;
}

/** Reads a body to its end or its failure, keeping what arrived before a failure. */
async function readBody(body: ReadableStream<Uint8Array>, onText?: (text: string) => void): Promise<{ text: string; error?: unknown }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      const piece = decoder.decode(read.value, { stream: true });
      text += piece;
      onText?.(piece);
    }
    return { text };
  } catch (error) {
    return { text, error };
  }
}

describe('test agent server', () => {
  let agent: TestAgent;

  beforeAll(async () => {
    agent = await startAgentServer();
  });
  afterAll(() => agent.stop());
  afterEach(() => agent.setFailure('none'));

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- read like supertest's res.body: the assertions check the shape
  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const response = await fetch(`${agent.url}${path}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: typeof body === 'string' || body === undefined ? body : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }

  it('answers health, and 404 for unknown routes', async () => {
    expect(await call('GET', '/health')).toEqual({ status: 200, body: { status: 'ok' } });
    const unknown = await call('GET', '/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toEqual(expect.any(String));
    expect((await call('GET', '/service/1/deploy')).status).toBe(404);
  });

  it('rejects malformed JSON and a missing command with 400', async () => {
    const malformed = await call('POST', '/service/bad/deploy', '{"command":');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatch(/JSON/);
    for (const body of [{}, undefined]) {
      const missing = await call('POST', '/service/bad/restart', body);
      expect(missing.status).toBe(400);
      expect(missing.body.error).toMatch(/command/);
    }
    expect(agent.isRunning('bad')).toBe(false);
  });

  it('deploys a real process, reports it running, and stops it', async () => {
    const deployed = await call('POST', '/service/11/deploy', { command: 'sleep 30' });
    expect(deployed.status).toBe(200);
    expect(deployed.body).toEqual({ status: 'deployed', pid: expect.any(Number), message: expect.any(String) });
    const { pid } = deployed.body;
    expect(processExists(pid)).toBe(true);
    expect(agent.isRunning(11)).toBe(true);

    const status = await call('GET', '/service/11/status');
    expect(status.body).toEqual({ status: 'running', pid, command: 'sleep 30', start_time: expect.any(String) });
    expect(Date.now() - Date.parse(status.body.start_time)).toBeLessThan(10_000);
    expect((await call('GET', '/services')).body['11']).toEqual(status.body);

    expect(await call('POST', '/service/11/stop')).toEqual({ status: 200, body: { status: 'stopped', message: expect.any(String) } });
    expect(processExists(pid)).toBe(false);
    expect(agent.isRunning('11')).toBe(false);
    const after = await call('GET', '/service/11/status');
    expect(after.body).toMatchObject({ status: 'stopped', command: 'sleep 30', return_code: -15 });
    expect(after.body.pid).toBeUndefined();
  });

  it('kills the whole process group on stop, background children included', async () => {
    const { body } = await call('POST', '/service/12/deploy', { command: 'sleep 30 & sleep 30 & wait' });
    await until(() => groupMembers(body.pid).length === 3, 'bash and both sleeps in the group');
    await call('POST', '/service/12/stop');
    await until(() => groupMembers(body.pid).length === 0, 'the group to be empty');
  });

  it('escalates to SIGKILL when the command ignores SIGTERM', async () => {
    const { body } = await call('POST', '/service/13/deploy', { command: "trap '' TERM; sleep 30" });
    // The answer comes once bash is spawned, possibly before it has run the trap.
    await until(() => ignoresSigterm(body.pid), 'the trap to be set');
    const started = Date.now();
    expect((await call('POST', '/service/13/stop')).body.status).toBe('stopped');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(processExists(body.pid)).toBe(false);
    expect((await call('GET', '/service/13/status')).body.return_code).toBe(-9);
  });

  it('reports a command that exits as stopped with its return code', async () => {
    await call('POST', '/service/14/deploy', { command: 'exit 3' });
    await until(() => !agent.isRunning(14), 'the command to exit');
    expect((await call('GET', '/service/14/status')).body).toMatchObject({ status: 'stopped', command: 'exit 3', return_code: 3 });
    // Stopping a service that already ended is not an error: the agent has seen it.
    expect((await call('POST', '/service/14/stop')).status).toBe(200);
  });

  it('redeploys and restarts by replacing the running process', async () => {
    const first = (await call('POST', '/service/15/deploy', { command: 'sleep 30' })).body.pid;
    const second = (await call('POST', '/service/15/deploy', { command: 'sleep 31' })).body.pid;
    expect(second).not.toBe(first);
    expect(processExists(first)).toBe(false);
    const restarted = await call('POST', '/service/15/restart', { command: 'sleep 32' });
    expect(restarted.body).toEqual({ status: 'restarted', pid: expect.any(Number), message: expect.any(String) });
    expect(processExists(second)).toBe(false);
    expect(processExists(restarted.body.pid)).toBe(true);
    expect((await call('GET', '/service/15/status')).body).toMatchObject({ status: 'running', pid: restarted.body.pid, command: 'sleep 32' });
    await call('POST', '/service/15/stop');
  });

  it('answers stopped for an unknown service and 404 to stopping one', async () => {
    expect(await call('GET', '/service/999/status')).toEqual({ status: 200, body: { status: 'stopped' } });
    const stop = await call('POST', '/service/999/stop');
    expect(stop.status).toBe(404);
    expect(stop.body.error).toMatch(/999/);
    expect((await call('GET', '/services')).body['999']).toBeUndefined();
  });

  it('logs every request it receives', async () => {
    const before = agent.requests.length;
    await call('POST', '/service/16/deploy', { command: 'exit 0' });
    await call('GET', '/service/16/status');
    expect(agent.requests.slice(before)).toEqual([
      { method: 'POST', path: '/service/16/deploy', body: { command: 'exit 0' } },
      { method: 'GET', path: '/service/16/status', body: undefined },
    ]);
  });

  it('fails every call with 500 in error500 mode, and spawns nothing', async () => {
    agent.setFailure('error500');
    expect(await call('POST', '/service/17/deploy', { command: 'sleep 30' })).toEqual({ status: 500, body: { error: 'agent exploded' } });
    expect((await call('GET', '/health')).status).toBe(500);
    expect(agent.isRunning(17)).toBe(false);
    agent.setFailure('none');
    expect((await call('GET', '/health')).status).toBe(200);
  });

  it('never answers in hang mode, and stop() releases hung requests', async () => {
    const hanging = await startAgentServer();
    hanging.setFailure('hang');
    await expect(fetch(`${hanging.url}/health`, { signal: AbortSignal.timeout(300) })).rejects.toThrow(/timeout|aborted/i);
    const failed = expect(fetch(`${hanging.url}/service/1/status`)).rejects.toThrow('fetch failed');
    await until(() => hanging.requests.length === 2, 'the second request to arrive');
    await hanging.stop();
    await failed;
  });

  it('kills its processes on stop()', async () => {
    const own = await startAgentServer();
    const response = await fetch(`${own.url}/service/1/deploy`, { method: 'POST', body: JSON.stringify({ command: 'sleep 30' }) });
    const { pid } = (await response.json()) as { pid: number };
    expect(processExists(pid)).toBe(true);
    await own.stop();
    expect(processExists(pid)).toBe(false);
  });

  it('delays deploy answers by delayMs without serialising different services', async () => {
    const slow = await startAgentServer({ delayMs: 400 });
    try {
      const deploy = (id: number) => fetch(`${slow.url}/service/${id}/deploy`, { method: 'POST', body: JSON.stringify({ command: 'exit 0' }) });
      const started = Date.now();
      const responses = await Promise.all([deploy(1), deploy(2)]);
      const elapsed = Date.now() - started;
      expect(responses.map((response) => response.status)).toEqual([200, 200]);
      expect(elapsed).toBeGreaterThanOrEqual(390);
      expect(elapsed).toBeLessThan(780);
    } finally {
      await slow.stop();
    }
  });
});

describe('test model server', () => {
  let model: TestModelServer;

  beforeAll(async () => {
    model = await startModelServer();
  });
  afterAll(() => model.stop());
  afterEach(() => model.setMode('ok'));

  // A redirect is an answer under test, not one to follow.
  const complete = (server: TestModelServer, body: Record<string, unknown>, signal?: AbortSignal) =>
    fetch(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hello there' }], ...body }),
      signal,
      redirect: 'manual',
    });

  /** The JSON payloads of `data: ` events, `[DONE]` kept as the string. */
  const events = (text: string): unknown[] =>
    text
      .split('\n\n')
      .filter(Boolean)
      .map((event) => {
        expect(event.startsWith('data: ')).toBe(true);
        const data = event.slice('data: '.length);
        return data === '[DONE]' ? data : JSON.parse(data);
      });

  const contentOf = (event: unknown): string => (event as { choices: { delta: { content: string } }[] }).choices[0].delta.content;

  it('answers a non-streaming completion and records the request', async () => {
    const response = await complete(model, { model: 'jiuge', top_k: 7 });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({
      id: expect.any(String),
      object: 'chat.completion',
      created: expect.any(Number),
      model: 'jiuge',
      choices: [{ index: 0, message: { role: 'assistant', content: 'tok0 tok1 tok2 tok3 tok4 ' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 2, completion_tokens: 5, total_tokens: 7 },
    });
    expect(model.requests.at(-1)).toEqual({ model: 'jiuge', top_k: 7, messages: [{ role: 'user', content: 'hello there' }] });
    expect(model.headers.at(-1)).toMatchObject({ authorization: 'Bearer test-key', 'content-type': 'application/json' });
  });

  it('answers 400 to a malformed body and 404 elsewhere', async () => {
    const malformed = await fetch(`${model.url}/chat/completions`, { method: 'POST', body: '{"messages":' });
    expect(malformed.status).toBe(400);
    expect(model.requests.at(-1)).toBe('{"messages":');
    expect((await fetch(`${model.url}/models`)).status).toBe(404);
  });

  it('streams one SSE event per chunk, then [DONE]', async () => {
    const response = await complete(model, { model: 'm', stream: true });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const { text, error } = await readBody(response.body!);
    expect(error).toBeUndefined();
    const received = events(text);
    expect(received.at(-1)).toBe('[DONE]');
    const chunks = received.slice(0, -1);
    expect(chunks.map(contentOf)).toEqual(['tok0 ', 'tok1 ', 'tok2 ', 'tok3 ', 'tok4 ']);
    expect(chunks[0]).toMatchObject({ object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, finish_reason: null }] });
    expect(chunks.at(-1)).toMatchObject({ choices: [{ finish_reason: 'stop' }] });
  });

  it('flushes each chunk as it is produced', async () => {
    const paced = await startModelServer({ chunks: 4, delayMs: 150 });
    try {
      const response = await complete(paced, { stream: true });
      const arrivals: number[] = [];
      const { text } = await readBody(response.body!, (piece) => {
        const now = Date.now();
        arrivals.push(
          ...piece
            .split('"delta"')
            .slice(1)
            .map(() => now),
        );
      });
      expect(events(text).slice(0, -1).map(contentOf)).toEqual(['tok0 ', 'tok1 ', 'tok2 ', 'tok3 ']);
      // Buffered output would deliver every chunk at once; paced output spreads them over ~3 delays.
      expect(arrivals).toHaveLength(4);
      expect(arrivals[3] - arrivals[0]).toBeGreaterThanOrEqual(400);
    } finally {
      await paced.stop();
    }
  });

  it('streams bare JSON lines with rawLines', async () => {
    const raw = await startModelServer({ chunks: 3, rawLines: true });
    try {
      const { text } = await readBody((await complete(raw, { stream: true })).body!);
      const lines = text.split('\n');
      expect(lines.at(-1)).toBe(''); // Every line ends with \n, and there is no [DONE].
      expect(lines.slice(0, -1).map((line) => contentOf(JSON.parse(line)))).toEqual(['tok0 ', 'tok1 ', 'tok2 ']);
    } finally {
      await raw.stop();
    }
  });

  it('streams thousands of chunks, and many streams at once', async () => {
    const big = await startModelServer({ chunks: 2000 });
    try {
      const { text } = await readBody((await complete(big, { stream: true })).body!);
      expect(events(text).slice(0, -1).map(contentOf).join('')).toBe(completionText(2000));
      const bodies = await Promise.all(Array.from({ length: 100 }, async () => (await readBody((await complete(big, { stream: true })).body!)).text));
      for (const body of bodies) expect(body.endsWith(`${chunkText(1999)}"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n`)).toBe(true);
    } finally {
      await big.stop();
    }
  });

  it('answers 500 in error mode', async () => {
    model.setMode('error');
    const response = await complete(model, { stream: true });
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: { message: 'model exploded' } });
  });

  it('gives the fixed answer of each canned mode, streamed or not', async () => {
    const json = 'application/json';
    const cases: Array<[ModelMode, number, string | null, string | ((body: string) => void)]> = [
      ['redirect', 302, 'text/plain', 'Found. Redirecting to /login'],
      ['no-content', 204, null, ''],
      ['unauthorized', 401, json, '{"error":{"message":"Invalid API key","type":"invalid_request_error","code":"invalid_api_key"}}'],
      ['forbidden', 403, 'text/html', (body) => expect(body).toContain('<title>403 Forbidden</title>')],
      ['not-found', 404, json, '{"detail":"Not Found"}'],
      ['bad-request', 400, json, JSON.stringify(BAD_TEMPERATURE)],
      ['unprocessable', 422, 'text/plain; charset=utf-8', UNPROCESSABLE_TEXT],
      ['html', 200, 'text/html; charset=utf-8', HTML_PAGE],
      ['invalid-json', 200, json, INVALID_JSON],
      [
        'huge-error',
        400,
        json,
        (body) => {
          expect(Buffer.byteLength(body)).toBe(HUGE_ERROR_BYTES);
          expect(JSON.parse(body).error).toMatchObject({ type: 'server_error', code: 'huge' });
        },
      ],
    ];
    for (const [mode, status, contentType, expected] of cases) {
      model.setMode(mode);
      for (const stream of [false, true]) {
        const response = await complete(model, { stream });
        expect({ mode, stream, status: response.status, contentType: response.headers.get('content-type') }).toEqual({
          mode,
          stream,
          status,
          contentType,
        });
        const body = await response.text();
        if (typeof expected === 'string') expect(body).toBe(expected);
        else expected(body);
      }
    }
    model.setMode('redirect');
    expect((await complete(model, {})).headers.get('location')).toBe(`${model.url}/login`);
  });

  it('breaks the connection after half the chunks in fail-mid-stream mode', async () => {
    model.setMode('fail-mid-stream');
    const { text, error } = await readBody((await complete(model, { stream: true })).body!);
    expect(String(error)).toMatch(/terminated/); // undici's word for a body cut short
    expect(events(text).map(contentOf)).toEqual(['tok0 ', 'tok1 ']);
    // Non-streaming: a truncated JSON body.
    await expect((await complete(model, {})).json()).rejects.toThrow();
  });

  it('never answers in hang mode', async () => {
    model.setMode('hang');
    await expect(complete(model, { stream: true }, AbortSignal.timeout(300))).rejects.toThrow(/timeout|aborted/i);
    // Giving up on a hung request is a client disconnect too.
    await model.clientDisconnected();
  });

  it('stalls after half the chunks in hang-mid-stream mode', async () => {
    model.setMode('hang-mid-stream');
    const abort = new AbortController();
    const response = await complete(model, { stream: true }, abort.signal);
    const timer = setTimeout(() => abort.abort(), 500);
    const { text, error } = await readBody(response.body!);
    clearTimeout(timer);
    expect((error as Error).name).toBe('AbortError');
    expect(events(text).map(contentOf)).toEqual(['tok0 ', 'tok1 ']);
    await model.clientDisconnected();
  });

  it('signals a client disconnect mid-stream, and only then', async () => {
    const slow = await startModelServer({ chunks: 20, delayMs: 20 });
    try {
      // A stream that ends normally and one the server breaks are not client disconnects.
      await readBody((await complete(slow, { stream: true })).body!);
      slow.setMode('fail-mid-stream');
      await readBody((await complete(slow, { stream: true })).body!);
      slow.setMode('ok');

      const abort = new AbortController();
      const response = await complete(slow, { stream: true }, abort.signal);
      await response.body!.getReader().read();
      abort.abort();
      // Had either earlier stream counted, the first disconnect would be request 1 or 2.
      expect(await slow.clientDisconnected()).toBe(3);
    } finally {
      await slow.stop();
    }
  });

  it('counts open connections', async () => {
    // node:http without an agent: one connection per request, none opened behind the test's back (undici may).
    const openStream = (server: TestModelServer) =>
      new Promise<ClientRequest>((resolve, reject) => {
        const req = httpRequest(`${server.url}/chat/completions`, { method: 'POST', agent: false }, (res) => {
          res.on('error', () => undefined); // 'aborted' once the test destroys the request
          res.once('data', () => resolve(req));
        });
        req.on('error', reject).end(JSON.stringify({ messages: [], stream: true }));
      });
    const slow = await startModelServer({ chunks: 100, delayMs: 20 });
    try {
      expect(slow.openConnections()).toBe(0);
      const [first, second] = await Promise.all([openStream(slow), openStream(slow)]);
      expect(slow.openConnections()).toBe(2);
      first.destroy();
      await slow.clientDisconnected();
      await until(() => slow.openConnections() === 1, 'the first connection to close');
      second.destroy();
      await until(() => slow.openConnections() === 0, 'the second connection to close');
    } finally {
      await slow.stop();
    }
  });

  it('closes hung sockets on stop()', async () => {
    const hanging = await startModelServer();
    hanging.setMode('hang');
    const failed = expect(complete(hanging, {})).rejects.toThrow('fetch failed');
    await until(() => hanging.requests.length === 1, 'the request to arrive');
    expect(hanging.openConnections()).toBe(1);
    await hanging.stop();
    await failed;
    expect(hanging.openConnections()).toBe(0);
  });
});
