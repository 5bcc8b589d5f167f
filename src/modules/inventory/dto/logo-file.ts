import { ApiPropertyOptional } from '@nestjs/swagger';

/**
 * The multipart file part `logo_file`, on the form DTOs (documentation only: multer takes the file out of the body,
 * and the route receives it through the upload interceptor).
 */
export function LogoFilePart(): PropertyDecorator {
  return ApiPropertyOptional({
    type: 'string',
    format: 'binary',
    description: 'A new logo image (png, jpg, jpeg, gif or webp), stored like `/api/upload`; `logo` becomes its URL',
  });
}
