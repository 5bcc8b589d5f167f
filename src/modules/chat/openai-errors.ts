import { applyDecorators, HttpException } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { STATUS_CODES } from 'node:http';
import { OpenAiErrorResponse } from './dto/openai.dto';

/** The body of an error in OpenAI's shape; `openai` clients read `code`, `type` and `param` into their APIError. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null };
}

/** OpenAI's error type for a status: what the caller did wrong, or which side failed. */
export function openAiErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 502 || status === 504) return 'upstream_error';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

/** `payload_too_large` for 413: the code of an error that has no more specific one. */
export function codeForStatus(status: number): string {
  return (STATUS_CODES[status] ?? `status ${status}`).toLowerCase().replace(/[^a-z0-9]+/g, '_');
}

/** An error answered in OpenAI's shape by the OpenAI-compatible routes (see OpenAiExceptionFilter). */
export class OpenAiException extends HttpException {
  constructor(status: number, message: string, code: string, param: string | null = null, type = openAiErrorType(status)) {
    super({ error: { message, type, code, param } } satisfies OpenAiErrorBody, status);
    this.message = message;
  }

  get body(): OpenAiErrorBody {
    return this.getResponse() as OpenAiErrorBody;
  }
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request (`param` names the field), or a service without servers (`no_servers`)',
  401: 'No token (`missing_api_key`), or an invalid, expired or revoked one (`invalid_api_key`)',
  403: 'Your role may not do this (`permission_denied`)',
  404: "No service with this id (`service_not_found`), or on a model's route no such model (`model_not_found`)",
  429: "The API token's rpm_limit or tpm_limit is reached (`rate_limit_exceeded`; type `requests` or `tokens`); Retry-After says when to retry",
  502: 'The model server could not be reached or failed (`upstream_unreachable`, `upstream_status_<status>`, …)',
  504: 'The model server did not answer in time (`upstream_timeout`)',
};

/** Documents the error answers of an OpenAI-compatible route, all in OpenAI's shape. */
export function ApiOpenAiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(...statuses.map((status) => ApiResponse({ status, description: DESCRIPTIONS[status], type: OpenAiErrorResponse })));
}
