import { HttpStatus, Injectable, PipeTransform } from '@nestjs/common';
import { OpenAiException } from './openai-errors';

type RequestBody = Record<string, unknown>;

/** What is wrong with a request, in OpenAI's terms: the field at fault and OpenAI's code for the fault. */
interface Problem {
  param: string;
  code: 'missing_required_parameter' | 'invalid_type' | 'empty_array';
  message: string;
}

/**
 * Checks what the proxy relies on in a request — the endpoint's required field and the types of `model` (and of
 * `stream` where it streams) — and leaves every other field alone, since model servers accept extensions (`top_k`, …).
 * Like OpenAI, it answers the first problem found, its field in `param`.
 */
abstract class OpenAiRequestPipe implements PipeTransform<unknown, RequestBody> {
  protected abstract readonly streams: boolean;

  /** The problem of the endpoint's own fields, if any. */
  protected abstract problemOf(request: RequestBody): Problem | undefined;

  transform(body: unknown): RequestBody {
    // No body at all reads as an empty one: its required field is missing.
    const request = body ?? {};
    if (typeof request !== 'object' || Array.isArray(request)) {
      throw new OpenAiException(HttpStatus.BAD_REQUEST, 'The body must be a JSON object', 'invalid_type');
    }
    const problem = this.problemOf(request as RequestBody) ?? this.typeProblem(request as RequestBody);
    if (problem) throw new OpenAiException(HttpStatus.BAD_REQUEST, problem.message, problem.code, problem.param);
    return request as RequestBody;
  }

  private typeProblem({ model, stream }: RequestBody): Problem | undefined {
    if (model !== undefined && model !== null && typeof model !== 'string') return invalidType('model', 'a string');
    if (this.streams && stream !== undefined && stream !== null && typeof stream !== 'boolean') return invalidType('stream', 'a boolean');
    return undefined;
  }
}

/** A chat-completions request: a non-empty `messages` array of objects with a string `role`. */
@Injectable()
export class ChatCompletionRequestPipe extends OpenAiRequestPipe {
  protected readonly streams = true;

  protected problemOf({ messages }: RequestBody): Problem | undefined {
    const problem = nonEmptyProblem('messages', messages, 'an array of messages', false);
    if (problem) return problem;
    for (const [index, message] of (messages as unknown[]).entries()) {
      if (message === null || typeof message !== 'object' || Array.isArray(message)) return invalidType(`messages.${index}`, 'an object');
      const { role } = message as { role?: unknown };
      if (role === undefined || role === null) return missing(`messages.${index}.role`);
      if (typeof role !== 'string' || role === '') return invalidType(`messages.${index}.role`, 'a non-empty string');
    }
    return undefined;
  }
}

/** A (text) completions request: `prompt`, a string or a non-empty array (of strings or token ids). */
@Injectable()
export class CompletionRequestPipe extends OpenAiRequestPipe {
  protected readonly streams = true;

  protected problemOf({ prompt }: RequestBody): Problem | undefined {
    return nonEmptyProblem('prompt', prompt, 'a string or an array', true);
  }
}

/** An embeddings request: `input`, a string or a non-empty array (of strings or token ids). */
@Injectable()
export class EmbeddingRequestPipe extends OpenAiRequestPipe {
  protected readonly streams = false;

  protected problemOf({ input }: RequestBody): Problem | undefined {
    return nonEmptyProblem('input', input, 'a string or an array', true);
  }
}

/** A required field that must be a non-empty array (or, when `stringAllowed`, a string). */
function nonEmptyProblem(param: string, value: unknown, expected: string, stringAllowed: boolean): Problem | undefined {
  if (value === undefined || value === null) return missing(param);
  if (stringAllowed && typeof value === 'string') return undefined;
  if (!Array.isArray(value)) return invalidType(param, expected);
  if (value.length === 0) return { param, code: 'empty_array', message: `'${param}' must not be empty` };
  return undefined;
}

function missing(param: string): Problem {
  return { param, code: 'missing_required_parameter', message: `Missing required parameter: '${param}'` };
}

function invalidType(param: string, expected: string): Problem {
  return { param, code: 'invalid_type', message: `Invalid type for '${param}': expected ${expected}` };
}
