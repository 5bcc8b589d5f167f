import { ApiSchema } from '@nestjs/swagger';
import { AcceptsReadOnlyFields, OptionalText, RequiredText } from '../../../common/decorators/fields';
import { UpdateType } from '../../../common/dto/update-type';
import { LogoFilePart } from './logo-file';

export class ModelResponse {
  id: number;
  name: string;
  logo: string | null;
  /** Free text such as `7B`. */
  parameters: string | null;
  created_at: Date;
}

/** A model as JSON. */
// A `logo_file` that is not a file (a form's empty text part, a JSON field) is ignored, as it always was.
@AcceptsReadOnlyFields('id', 'created_at', 'logo_file')
export class CreateModelDto {
  @RequiredText()
  name: string;

  @OptionalText(2048, 'Logo URL; replaced by the URL of `logo_file` when one is uploaded')
  logo?: string | null;

  @OptionalText(255, 'Free text such as `7B`')
  parameters?: string | null;
}

/** A model as a multipart form: the fields as text parts, and optionally a new logo image as `logo_file`. */
export class CreateModelFormDto extends CreateModelDto {
  @LogoFilePart()
  logo_file?: unknown;
}

@ApiSchema({ description: 'JSON: fields left out keep their stored values; `null` clears `logo` or `parameters`.' })
export class UpdateModelDto extends UpdateType(CreateModelDto) {}

/**
 * The admin UI's model form leaves out a field it has emptied, and the old backend rewrote every column, so there a
 * field left out of a form became NULL; it still does.
 */
@ApiSchema({
  description:
    'Multipart form, as the admin UI sends it: `parameters` left out is cleared (null); `logo` left out is cleared unless ' +
    'a `logo_file` is uploaded, which sets it; `name` left out keeps the stored name.',
})
export class UpdateModelFormDto extends UpdateModelDto {
  @LogoFilePart()
  logo_file?: unknown;
}
