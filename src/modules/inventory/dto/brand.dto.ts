import { ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { Exclude, Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, ValidateNested } from 'class-validator';
import { AcceptsReadOnlyFields, Int32, OptionalText, RequiredText } from '../../../common/decorators/fields';

export class BrandResponse {
  id: number;
  name: string;
  /** Logo URL, `null` when none. */
  logo: string | null;
  sort_order: number;
  created_at: Date;
}

/**
 * Sent as JSON or as multipart/form-data. In multipart form a new image may come as the file part
 * `logo_file`; it is stored like `/api/upload` and `logo` becomes its URL.
 */
@AcceptsReadOnlyFields('id', 'sort_order', 'created_at')
export class CreateBrandDto {
  @RequiredText()
  name: string;

  @OptionalText(2048, 'Logo URL; replaced by the URL of `logo_file` when one is uploaded')
  logo?: string | null;

  /** Documents the multipart file part; the file itself arrives through the upload interceptor. */
  @ApiPropertyOptional({ type: 'string', format: 'binary', description: 'multipart/form-data only: a new logo image' })
  @Exclude({ toClassOnly: true })
  logo_file?: unknown;
}

/** Fields left out keep their stored values. */
export class UpdateBrandDto extends PartialType(CreateBrandDto, { skipNullProperties: false }) {}

export class BrandOrder {
  @Int32({ min: 1 })
  id: number;

  @Int32()
  sort_order: number;
}

export class ReorderBrandsDto {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(10000)
  @ValidateNested({ each: true })
  @Type(() => BrandOrder)
  orders: BrandOrder[];
}
