import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class ValidationDetail {
  /** Path of the bad field, e.g. `name` or `orders.0.id`. */
  field: string;
  /** What is wrong with it. */
  messages: string[];
}

/** The body of every error answer. */
export class ErrorResponse {
  @ApiProperty({ example: 400 })
  statusCode: number;

  @ApiProperty({ example: 'Validation failed: name should not be empty' })
  error: string;

  /** For validation errors: one entry per bad field. */
  details?: ValidationDetail[];

  /**
   * The id of the request, also sent as the `X-Request-Id` header of every answer. Quote it when reporting the
   * failure: it names the request's log lines.
   */
  @ApiPropertyOptional({ example: '6f1c2b9e-3d4a-4e5f-8a7b-9c0d1e2f3a4b' })
  request_id?: string;
}

export class MessageResponse {
  @ApiProperty({ example: 'Brand updated successfully' })
  message: string;
}

export class CreatedResponse {
  @ApiProperty({ example: 1 })
  id: number;

  @ApiProperty({ example: 'Brand created successfully' })
  message: string;
}
