import {
  ArgumentsHost,
  BadRequestException,
  ForbiddenException,
  HttpException,
  NotFoundException,
  PayloadTooLargeException,
  UnauthorizedException,
} from '@nestjs/common';
import { OpenAiException } from './openai-errors';
import { OpenAiExceptionFilter } from './openai-exception.filter';

interface Sent {
  status?: number;
  body?: unknown;
  ended: boolean;
}

/** Runs the filter on `exception` for a request with `headers`, and returns what it answered and what it logged. */
function answer(exception: unknown, headers: Record<string, string> = {}, headersSent = false): Sent & { logged: string[] } {
  const sent: Sent = { ended: false };
  const response = {
    headersSent,
    status(status: number) {
      sent.status = status;
      return this;
    },
    json(body: unknown) {
      sent.body = body;
    },
    end() {
      sent.ended = true;
    },
  };
  const host = {
    switchToHttp: () => ({
      getResponse: () => response,
      getRequest: () => ({ method: 'POST', url: '/api/services/1/chat/completions?token=secret', headers }),
    }),
  } as unknown as ArgumentsHost;
  const filter = new OpenAiExceptionFilter();
  const logged: string[] = [];
  const logger = (filter as unknown as { logger: Record<'warn' | 'error', (...parts: unknown[]) => void> }).logger;
  jest.spyOn(logger, 'warn').mockImplementation((...parts) => logged.push(`warn ${parts.join(' ')}`));
  jest.spyOn(logger, 'error').mockImplementation((...parts) => logged.push(`error ${parts.join(' ')}`));
  filter.catch(exception, host);
  return { ...sent, logged };
}

describe('OpenAiExceptionFilter', () => {
  it('answers an OpenAI error as it is, logging a 5xx by its message', () => {
    const upstream = new OpenAiException(502, 'Connection failed: 127.0.0.1:8000', 'upstream_unreachable');
    expect(answer(upstream)).toEqual({
      status: 502,
      body: { error: { message: 'Connection failed: 127.0.0.1:8000', type: 'upstream_error', code: 'upstream_unreachable', param: null } },
      ended: false,
      logged: ['warn Connection failed: 127.0.0.1:8000'],
    });
  });

  it('turns the house exceptions into OpenAI errors, the first field of `details` as param', () => {
    const invalid = new BadRequestException({
      message: 'Validation failed: a; b',
      details: [
        { field: 'messages', messages: ['a'] },
        { field: 'model', messages: ['b'] },
      ],
    });
    expect(answer(invalid).body).toEqual({
      error: { message: 'Validation failed: a; b', type: 'invalid_request_error', code: 'bad_request', param: 'messages' },
    });
    expect(answer(new NotFoundException('Service 7 not found')).body).toEqual({
      error: { message: 'Service 7 not found', type: 'invalid_request_error', code: 'service_not_found', param: null },
    });
    expect(answer(new ForbiddenException('This needs the operator role')).body).toMatchObject({
      error: { type: 'permission_error', code: 'permission_denied' },
    });
    expect(answer(new PayloadTooLargeException('Too large')).body).toMatchObject({
      error: { type: 'invalid_request_error', code: 'payload_too_large' },
    });
    expect(answer(new HttpException('Slow down', 429)).body).toMatchObject({ error: { type: 'rate_limit_error', code: 'too_many_requests' } });
  });

  it('tells a missing token from a refused one', () => {
    const refused = new UnauthorizedException('Authentication required');
    expect(answer(refused).body).toMatchObject({ error: { type: 'authentication_error', code: 'missing_api_key' } });
    expect(answer(refused, { authorization: 'Bearer sk-x' }).body).toMatchObject({
      error: { type: 'authentication_error', code: 'invalid_api_key' },
    });
  });

  it('answers anything else with a bare 500 that reveals nothing, logging it with its stack and without query secrets', () => {
    const { status, body, logged } = answer(new TypeError('Cannot read properties of undefined (reading "x")'));
    expect({ status, body }).toEqual({
      status: 500,
      body: { error: { message: 'Internal server error', type: 'server_error', code: 'internal_server_error', param: null } },
    });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/^error POST \/api\/services\/1\/chat\/completions\?token=\S+ failed TypeError: Cannot read/);
    expect(logged[0]).not.toContain('secret');
  });

  it('only ends a response whose answer has started', () => {
    expect(answer(new OpenAiException(502, 'late', 'upstream_unreachable'), {}, true)).toEqual({ ended: true, logged: [] });
  });
});
