import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ValidationDetail } from '../../common/dto/responses.dto';
import { maskUrlForLog } from '../../common/secrets';
import { presentedToken } from '../auth/auth.service';
import { codeForStatus, OpenAiException } from './openai-errors';

/**
 * Answers the errors of the OpenAI-compatible routes in OpenAI's shape `{error: {message, type, code, param}}`, so
 * that `openai` clients raise the right APIError with its `code` and `type`. Scoped to their controller, it also
 * sees what the guards and pipes throw; what fails before routing (malformed JSON, 413, 415) keeps the house shape.
 * The request id stays out of the body, as with OpenAI: it is in the X-Request-Id header, which `openai` clients
 * give as the error's `requestID`.
 */
@Catch()
export class OpenAiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Exceptions');

  catch(exception: unknown, host: ArgumentsHost): void {
    const request = host.switchToHttp().getRequest<Request>();
    const response = host.switchToHttp().getResponse<Response>();
    if (response.headersSent) {
      // A streamed answer already started: all that is left to do is end it.
      response.end();
      return;
    }
    const error = toOpenAiException(exception, request);
    const status = error.getStatus();
    if (status >= 500) {
      // An upstream's failure is told in its message; anything else is a defect, worth its stack.
      if (exception instanceof OpenAiException) this.logger.warn(error.message);
      else
        this.logger.error(
          `${request.method} ${maskUrlForLog(request.originalUrl ?? request.url)} failed`,
          exception instanceof Error ? exception.stack : String(exception),
        );
    }
    response.status(status).json(error.body);
  }
}

function toOpenAiException(exception: unknown, request: Request): OpenAiException {
  if (exception instanceof OpenAiException) return exception;
  if (!(exception instanceof HttpException)) {
    return new OpenAiException(HttpStatus.INTERNAL_SERVER_ERROR, 'Internal server error', codeForStatus(HttpStatus.INTERNAL_SERVER_ERROR));
  }
  const status = exception.getStatus();
  const payload = exception.getResponse();
  // Nest's built-in exceptions and ours both carry the human text in `message`, and validation the bad fields in `details`.
  const { message, details } = (typeof payload === 'string' ? { message: payload } : payload) as { message?: unknown; details?: ValidationDetail[] };
  const text = Array.isArray(message) ? message.join('; ') : typeof message === 'string' ? message : exception.message;
  return new OpenAiException(status, text, codeOf(status, request), details?.[0]?.field ?? null);
}

function codeOf(status: HttpStatus, request: Request): string {
  if (status === HttpStatus.UNAUTHORIZED) return presentedToken(request.headers) ? 'invalid_api_key' : 'missing_api_key';
  if (status === HttpStatus.FORBIDDEN) return 'permission_denied';
  // Every route here is under services/:id; a missing model is thrown as OpenAI's own `model_not_found`.
  if (status === HttpStatus.NOT_FOUND) return 'service_not_found';
  return codeForStatus(status);
}
