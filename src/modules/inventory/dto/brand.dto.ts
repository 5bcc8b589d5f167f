import { ApiSchema } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, ValidateNested } from 'class-validator';
import { AcceptsReadOnlyFields, Int32, OptionalText, RequiredText } from '../../../common/decorators/fields';
import { UpdateType } from '../../../common/dto/update-type';
import { LogoFilePart } from './logo-file';

export class BrandResponse {
  id: number;
  name: string;
  /** Logo URL, `null` when none. */
  logo: string | null;
  sort_order: number;
  created_at: Date;
}

/** A brand as JSON. */
// A `logo_file` that is not a file (a form's empty text part, a JSON field) is ignored, as it always was.
@AcceptsReadOnlyFields('id', 'sort_order', 'created_at', 'logo_file')
export class CreateBrandDto {
  @RequiredText()
  name: string;

  @OptionalText(2048, 'Logo URL; replaced by the URL of `logo_file` when one is uploaded')
  logo?: string | null;
}

/** A brand as a multipart form: the fields as text parts, and optionally a new logo image as `logo_file`. */
export class CreateBrandFormDto extends CreateBrandDto {
  @LogoFilePart()
  logo_file?: unknown;
}

@ApiSchema({ description: 'JSON: fields left out keep their stored values; `null` clears `logo`.' })
export class UpdateBrandDto extends UpdateType(CreateBrandDto) {}

/**
 * The admin UI's brand form leaves out a field it has emptied, and the old backend rewrote every column, so there a
 * field left out of a form became NULL; it still does.
 */
@ApiSchema({
  description:
    'Multipart form, as the admin UI sends it: `logo` left out is cleared (null) unless a `logo_file` is uploaded, which ' +
    'sets it; `name` left out keeps the stored name.',
})
export class UpdateBrandFormDto extends UpdateBrandDto {
  @LogoFilePart()
  logo_file?: unknown;
}

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
