import { ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { Exclude } from 'class-transformer';
import { AcceptsReadOnlyFields, OptionalText, RequiredText } from '../../../common/decorators/fields';

export class ModelResponse {
  id: number;
  name: string;
  logo: string | null;
  /** Free text such as `7B`. */
  parameters: string | null;
  created_at: Date;
}

/** Sent as JSON or multipart/form-data; in multipart a new logo image may come as `logo_file`. */
@AcceptsReadOnlyFields('id', 'created_at')
export class CreateModelDto {
  @RequiredText()
  name: string;

  @OptionalText(2048, 'Logo URL; replaced by the URL of `logo_file` when one is uploaded')
  logo?: string | null;

  @OptionalText(255, 'Free text such as `7B`')
  parameters?: string | null;

  /** Documents the multipart file part; the file itself arrives through the upload interceptor. */
  @ApiPropertyOptional({ type: 'string', format: 'binary', description: 'multipart/form-data only: a new logo image' })
  @Exclude({ toClassOnly: true })
  logo_file?: unknown;
}

/** Fields left out keep their stored values. */
export class UpdateModelDto extends PartialType(CreateModelDto, { skipNullProperties: false }) {}
