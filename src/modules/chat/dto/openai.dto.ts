import { ApiProperty } from '@nestjs/swagger';

/**
 * An OpenAI chat-completions request. Only `messages` is required; every other field (`model`, `stream`,
 * `temperature`, `top_k`, …) is passed to the model server as sent.
 */
export class ChatCompletionRequest {
  @ApiProperty({
    type: 'array',
    items: { type: 'object', properties: { role: { type: 'string' }, content: { type: 'string' } } },
    example: [{ role: 'user', content: 'Hello' }],
  })
  messages: { role: string; content: unknown }[];

  @ApiProperty({ required: false, description: 'Defaults to CHAT_DEFAULT_MODEL (`jiuge`)' })
  model?: string;

  @ApiProperty({ required: false, description: 'Server-sent events when true' })
  stream?: boolean;
}

/** An OpenAI (text) completions request. Only `prompt` is required; every other field is passed to the model server as sent. */
export class CompletionRequest {
  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: {} }],
    description: 'A string, or a non-empty array of strings or token ids',
    example: 'Once upon a time',
  })
  prompt: string | unknown[];

  @ApiProperty({ required: false, description: 'Defaults to CHAT_DEFAULT_MODEL (`jiuge`)' })
  model?: string;

  @ApiProperty({ required: false, description: 'Server-sent events when true' })
  stream?: boolean;
}

/** An OpenAI embeddings request. Only `input` is required; every other field (`encoding_format`, `dimensions`, …) is passed on as sent. */
export class EmbeddingRequest {
  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: {} }],
    description: 'A string, or a non-empty array of strings or token ids',
    example: 'The food was delicious',
  })
  input: string | unknown[];

  @ApiProperty({ required: false, description: 'Defaults to CHAT_DEFAULT_MODEL (`jiuge`)' })
  model?: string;
}

/** A model, as `GET /v1/models` lists it. A model server's own list may carry more fields; they are passed on. */
export class OpenAiModel {
  @ApiProperty({ example: 'jiuge' })
  id: string;

  @ApiProperty({ enum: ['model'] })
  object: 'model';

  /** Unix time, in seconds. */
  @ApiProperty({ type: 'integer', example: 1_700_000_000 })
  created: number;

  @ApiProperty({ example: 'infinistudio' })
  owned_by: string;
}

export class OpenAiModelList {
  @ApiProperty({ enum: ['list'] })
  object: 'list';

  data: OpenAiModel[];
}

export class OpenAiError {
  /** What went wrong. */
  message: string;

  /**
   * `invalid_request_error`, `authentication_error`, `permission_error`, `rate_limit_error`, `upstream_error` or
   * `server_error`; a model server's own when its error is passed on.
   */
  @ApiProperty({ example: 'invalid_request_error' })
  type: string;

  @ApiProperty({ type: String, nullable: true, example: 'missing_required_parameter' })
  code: string | null;

  /** The request field at fault. */
  @ApiProperty({ type: String, nullable: true, example: 'messages' })
  param: string | null;
}

/** An error in OpenAI's shape: `openai` clients raise it as an APIError carrying its `code`, `type` and `param`. */
export class OpenAiErrorResponse {
  error: OpenAiError;
}
