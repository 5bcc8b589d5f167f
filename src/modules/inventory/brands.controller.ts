import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Req, Res, UploadedFile, UseInterceptors } from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../../common/decorators/api-errors.decorator';
import { ApiJsonOrFormBody } from '../../common/decorators/api-json-or-form-body.decorator';
import { JsonListResponse, sendCachedJson } from '../../common/decorators/json-text.decorator';
import { SentAsForm } from '../../common/decorators/sent-as-form.decorator';
import { CreatedResponse, MessageResponse } from '../../common/dto/responses.dto';
import { ParseIdPipe } from '../../common/pipes/parse-id.pipe';
import { BrandsService } from './brands.service';
import { BrandResponse, CreateBrandDto, CreateBrandFormDto, ReorderBrandsDto, UpdateBrandDto, UpdateBrandFormDto } from './dto/brand.dto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HotRead } from '../../common/decorators/hot-read.decorator';

@ApiTags('brands')
@Controller('brands')
export class BrandsController {
  constructor(private readonly brands: BrandsService) {}

  /** Lists brands ordered by `sort_order`, newest first within a position. */
  @Get()
  @HotRead()
  @JsonListResponse(BrandResponse)
  listBrands(@Req() request: IncomingMessage, @Res() response: ServerResponse): Promise<void> {
    return sendCachedJson(request, response, this.brands.listJson());
  }

  /** Creates a brand, optionally with a logo image uploaded as `logo_file`. */
  @Post()
  @UseInterceptors(FileInterceptor('logo_file'))
  @ApiJsonOrFormBody(CreateBrandFormDto)
  @ApiCreatedResponse({ type: CreatedResponse })
  @ApiErrors(400, 413, 415)
  async createBrand(@Body() dto: CreateBrandDto, @UploadedFile() logoFile?: Express.Multer.File): Promise<CreatedResponse> {
    const brand = await this.brands.create(dto, logoFile);
    return { id: brand.id, message: 'Brand created successfully' };
  }

  /** Moves brands to new positions, all in one transaction. */
  @Post('reorder')
  @HttpCode(200)
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404)
  async reorderBrands(@Body() dto: ReorderBrandsDto): Promise<MessageResponse> {
    await this.brands.reorder(dto);
    return { message: 'Brands reordered successfully' };
  }

  /**
   * Updates a brand. As JSON, fields left out keep their values. As a multipart form (the admin UI's), `logo` left out
   * is cleared unless a `logo_file` is uploaded, which sets it; `name` left out is kept.
   */
  @Put(':id')
  @UseInterceptors(FileInterceptor('logo_file'))
  @ApiJsonOrFormBody(UpdateBrandFormDto)
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404, 413, 415)
  async updateBrand(
    @Param('id', ParseIdPipe) id: number,
    @Body() dto: UpdateBrandDto,
    @SentAsForm() form: boolean,
    @UploadedFile() logoFile?: Express.Multer.File,
  ): Promise<MessageResponse> {
    await this.brands.update(id, dto, { form, logoFile });
    return { message: 'Brand updated successfully' };
  }

  /** Deletes a brand with its accelerator cards; servers that referenced them keep working. */
  @Delete(':id')
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404)
  async deleteBrand(@Param('id', ParseIdPipe) id: number): Promise<MessageResponse> {
    await this.brands.delete(id);
    return { message: 'Brand deleted successfully' };
  }
}
