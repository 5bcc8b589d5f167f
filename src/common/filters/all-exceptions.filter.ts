import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Request, Response } from 'express';
import { QueryFailedError } from 'typeorm';
import { describeBodyParserError } from '../body-rules';
import { ErrorResponse } from '../dto/responses.dto';
import { isConstraintViolation } from '../../database/constraint-violation';
import { RequestContext } from '../request-context';
import { maskUrlForLog } from '../secrets';

/** Body-parser and other Express errors carry an HTTP status of their own. */
interface ErrorWithStatus {
  status?: number;
  statusCode?: number;
  message?: string;
}

/**
 * Turns anything thrown while handling a request into the contract's error body
 * `{statusCode, error, details?, request_id?}`. Unknown errors become a bare 500 that reveals nothing
 * but the request id, which names the logged stack.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Exceptions');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const { httpAdapter } = this.adapterHost;
    const response = host.switchToHttp().getResponse<Response>();
    if (response.headersSent) {
      // A streamed answer already started: all that is left to do is end it.
      response.end();
      return;
    }
    const body = this.toErrorResponse(exception);
    // The id to quote when asking about the failure; it is in the X-Request-Id header as well.
    const requestId = RequestContext.requestId();
    if (requestId) body.request_id = requestId;
    if (body.statusCode >= 500) {
      const request = host.switchToHttp().getRequest<Request>();
      this.logger.error(
        `${request.method} ${maskUrlForLog(request.originalUrl ?? request.url)} failed`,
        exception instanceof Error ? exception.stack : String(exception),
      );
    }
    httpAdapter.reply(response, body, body.statusCode);
  }

  private toErrorResponse(exception: unknown): ErrorResponse {
    if (exception instanceof HttpException) return fromHttpException(exception);
    if (exception instanceof QueryFailedError && isConstraintViolation(exception as QueryFailedError)) {
      return { statusCode: HttpStatus.CONFLICT, error: 'The change conflicts with existing data' };
    }
    const status = (exception as ErrorWithStatus)?.status ?? (exception as ErrorWithStatus)?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return { statusCode: status, error: describeBodyParserError(exception) ?? (exception as ErrorWithStatus).message ?? 'Bad request' };
    }
    return { statusCode: HttpStatus.INTERNAL_SERVER_ERROR, error: 'Internal server error' };
  }
}

function fromHttpException(exception: HttpException): ErrorResponse {
  const statusCode = exception.getStatus();
  const payload = exception.getResponse();
  if (typeof payload === 'string') return { statusCode, error: payload };
  // Nest's built-in exceptions and ours both carry the human text in `message`.
  const { message, details } = payload as { message?: unknown; details?: ErrorResponse['details'] };
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- `message` is a string in practice; anything else is shown as String() gives it
  const error = Array.isArray(message) ? message.join('; ') : String(message ?? exception.message);
  return details ? { statusCode, error, details } : { statusCode, error };
}
