import { Body, Controller, Delete, Get, Param, Post, Put, Req, Res, UploadedFile, UseInterceptors } from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../../common/decorators/api-errors.decorator';
import { ApiJsonOrFormBody } from '../../common/decorators/api-json-or-form-body.decorator';
import { JsonListResponse, sendCachedJson } from '../../common/decorators/json-text.decorator';
import { SentAsForm } from '../../common/decorators/sent-as-form.decorator';
import { CreatedResponse, MessageResponse } from '../../common/dto/responses.dto';
import { ParseIdPipe } from '../../common/pipes/parse-id.pipe';
import { CreateModelDto, CreateModelFormDto, ModelResponse, UpdateModelDto, UpdateModelFormDto } from './dto/model.dto';
import { ModelsService } from './models.service';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HotRead } from '../../common/decorators/hot-read.decorator';

@ApiTags('models')
@Controller('models')
export class ModelsController {
  constructor(private readonly models: ModelsService) {}

  /** Lists AI models, newest first. */
  @Get()
  @HotRead()
  @JsonListResponse(ModelResponse)
  listModels(@Req() request: IncomingMessage, @Res() response: ServerResponse): Promise<void> {
    return sendCachedJson(request, response, this.models.listJson());
  }

  /** Creates a model, optionally with a logo image uploaded as `logo_file`. */
  @Post()
  @UseInterceptors(FileInterceptor('logo_file'))
  @ApiJsonOrFormBody(CreateModelFormDto)
  @ApiCreatedResponse({ type: CreatedResponse })
  @ApiErrors(400, 413, 415)
  async createModel(@Body() dto: CreateModelDto, @UploadedFile() logoFile?: Express.Multer.File): Promise<CreatedResponse> {
    const model = await this.models.create(dto, logoFile);
    return { id: model.id, message: 'Model created successfully' };
  }

  /**
   * Updates a model. As JSON, fields left out keep their values. As a multipart form (the admin UI's), `parameters`
   * left out is cleared, `logo` left out is cleared unless a `logo_file` is uploaded, which sets it, and `name` left
   * out is kept.
   */
  @Put(':id')
  @UseInterceptors(FileInterceptor('logo_file'))
  @ApiJsonOrFormBody(UpdateModelFormDto)
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404, 413, 415)
  async updateModel(
    @Param('id', ParseIdPipe) id: number,
    @Body() dto: UpdateModelDto,
    @SentAsForm() form: boolean,
    @UploadedFile() logoFile?: Express.Multer.File,
  ): Promise<MessageResponse> {
    await this.models.update(id, dto, { form, logoFile });
    return { message: 'Model updated successfully' };
  }

  /** Deletes a model; refused while a service deploys it. */
  @Delete(':id')
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404, 409)
  async deleteModel(@Param('id', ParseIdPipe) id: number): Promise<MessageResponse> {
    await this.models.delete(id);
    return { message: 'Model deleted successfully' };
  }
}
