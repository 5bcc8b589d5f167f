import { ArgumentsHost, BadGatewayException, BadRequestException, NotFoundException } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { QueryFailedError } from 'typeorm';
import { RequestContext } from '../request-context';
import { AllExceptionsFilter } from './all-exceptions.filter';

const REQUEST_ID = 'req-7f3a';

/** Runs the filter on `exception`, as part of request REQUEST_ID, and returns what it replied. */
function reply(exception: unknown): { status: number; body: Record<string, unknown> } {
  let sent: { status: number; body: Record<string, unknown> } | undefined;
  const adapterHost = {
    httpAdapter: { reply: (_res: unknown, body: Record<string, unknown>, status: number) => (sent = { status, body }) },
  } as unknown as HttpAdapterHost;
  const host = {
    getType: () => 'http',
    switchToHttp: () => ({
      getResponse: () => ({ headersSent: false }),
      getRequest: () => ({ method: 'GET', url: '/api/x' }),
    }),
  } as unknown as ArgumentsHost;
  const filter = new AllExceptionsFilter(adapterHost);
  jest.spyOn((filter as unknown as { logger: { error: () => void } }).logger, 'error').mockImplementation(() => undefined);
  RequestContext.run({ requestId: REQUEST_ID, ip: null }, () => filter.catch(exception, host));
  return sent!;
}

describe('AllExceptionsFilter', () => {
  it('puts the message of an HTTP exception in `error`', () => {
    expect(reply(new NotFoundException('Brand 7 not found'))).toEqual({
      status: 404,
      body: { statusCode: 404, error: 'Brand 7 not found', request_id: REQUEST_ID },
    });
  });

  it('keeps validation details', () => {
    const details = [{ field: 'name', messages: ['name should not be empty'] }];
    const { body } = reply(new BadRequestException({ message: 'Validation failed: name should not be empty', details }));
    expect(body).toEqual({ statusCode: 400, error: 'Validation failed: name should not be empty', details, request_id: REQUEST_ID });
  });

  it('says which upstream failed on a 502', () => {
    expect(reply(new BadGatewayException('Connection failed: 10.0.0.1:8000 refused')).body.error).toMatch(/10\.0\.0\.1/);
  });

  it('answers an unexpected error with a bare 500 that leaks nothing but the id to quote', () => {
    const { status, body } = reply(new Error('ENOENT /srv/secret/path password=hunter2'));
    expect(status).toBe(500);
    expect(body).toEqual({ statusCode: 500, error: 'Internal server error', request_id: REQUEST_ID });
  });

  it('gives the request id in every error body, 4xx and 5xx, so that a user can quote it', () => {
    expect(reply(new BadGatewayException('Connection refused')).body.request_id).toBe(REQUEST_ID);
    expect(reply(new NotFoundException('Brand 7 not found')).body.request_id).toBe(REQUEST_ID);
  });

  it('maps body-parser errors to their 4xx status', () => {
    const tooLarge = Object.assign(new Error('request entity too large'), { status: 413, type: 'entity.too.large' });
    expect(reply(tooLarge)).toEqual({ status: 413, body: { statusCode: 413, error: 'Request body too large', request_id: REQUEST_ID } });
  });

  it('turns a constraint violation into 409, not 500', () => {
    const violation = new QueryFailedError('DELETE …', [], Object.assign(new Error('FOREIGN KEY constraint failed'), { code: 'SQLITE_CONSTRAINT' }));
    expect(reply(violation).status).toBe(409);
  });
});
