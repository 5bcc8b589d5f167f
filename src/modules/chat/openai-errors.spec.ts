import { codeForStatus, OpenAiException, openAiErrorType } from './openai-errors';

describe('openAiErrorType', () => {
  it.each([
    [400, 'invalid_request_error'],
    [404, 'invalid_request_error'],
    [413, 'invalid_request_error'],
    [422, 'invalid_request_error'],
    [401, 'authentication_error'],
    [403, 'permission_error'],
    [429, 'rate_limit_error'],
    [502, 'upstream_error'],
    [504, 'upstream_error'],
    [500, 'server_error'],
    [503, 'server_error'],
  ])('gives %p the type %p', (status, type) => {
    expect(openAiErrorType(status)).toBe(type);
  });
});

describe('codeForStatus', () => {
  it("derives a snake_case code from the status's reason phrase", () => {
    expect(codeForStatus(413)).toBe('payload_too_large');
    expect(codeForStatus(500)).toBe('internal_server_error');
    expect(codeForStatus(404)).toBe('not_found');
  });

  it('still gives a code for a status without a reason phrase', () => {
    expect(codeForStatus(599)).toBe('status_599');
  });
});

describe('OpenAiException', () => {
  it("answers in OpenAI's shape, typed by its status unless told otherwise", () => {
    expect(new OpenAiException(404, 'No such model', 'model_not_found', 'model').body).toEqual({
      error: { message: 'No such model', type: 'invalid_request_error', code: 'model_not_found', param: 'model' },
    });
    const upstream = new OpenAiException(400, 'Model server answered 400', 'upstream_status_400', null, 'upstream_error');
    expect(upstream.getStatus()).toBe(400);
    expect(upstream.body.error).toMatchObject({ type: 'upstream_error', param: null });
  });
});
