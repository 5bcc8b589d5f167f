import { Controller, Get, Header, HttpCode, Param, Post, StreamableFile, UploadedFile, UseInterceptors } from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../../common/decorators/api-errors.decorator';
import { UploadResponse } from './dto/upload.dto';
import { UploadsService } from './uploads.service';

@ApiTags('uploads')
@Controller()
export class UploadsController {
  constructor(private readonly uploads: UploadsService) {}

  /** Uploads an image (png, jpg, jpeg, gif or webp; checked by extension and content). */
  @Post('upload')
  @HttpCode(200)
  @UseInterceptors(FileInterceptor('file'))
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: { type: 'object', required: ['file'], properties: { file: { type: 'string', format: 'binary' } } },
  })
  @ApiOkResponse({ type: UploadResponse })
  @ApiErrors(400, 413, 415)
  async uploadFile(@UploadedFile() file: Express.Multer.File | undefined): Promise<UploadResponse> {
    return this.uploads.storeImage(file);
  }

  /** Serves an uploaded image with its content type. Unknown or malformed names are a 404. */
  @Get('uploads/:filename')
  @Header('Cache-Control', 'public, max-age=31536000, immutable')
  @ApiOkResponse({
    description: 'The image',
    content: Object.fromEntries(
      ['image/png', 'image/jpeg', 'image/gif', 'image/webp'].map((type) => [type, { schema: { type: 'string', format: 'binary' } }]),
    ),
  })
  @ApiErrors(404)
  async getUpload(@Param('filename') filename: string): Promise<StreamableFile> {
    const image = await this.uploads.open(filename);
    return new StreamableFile(image.stream, { type: image.contentType, length: image.size });
  }
}
