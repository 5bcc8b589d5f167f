import { ApiProperty } from '@nestjs/swagger';

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
