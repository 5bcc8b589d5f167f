import { Body, Controller, Delete, Get, Param, Post, Put } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../../common/decorators/api-errors.decorator';
import { CreatedResponse, MessageResponse } from '../../common/dto/responses.dto';
import { ParseIdPipe } from '../../common/pipes/parse-id.pipe';
import { AcceleratorsService } from './accelerators.service';
import { AcceleratorResponse, CreateAcceleratorDto, UpdateAcceleratorDto } from './dto/accelerator.dto';

@ApiTags('accelerators')
@Controller()
export class AcceleratorsController {
  constructor(private readonly accelerators: AcceleratorsService) {}

  /** Lists a brand's accelerator cards, newest first. */
  @Get('brands/:brand_id/accelerators')
  @ApiOkResponse({ type: [AcceleratorResponse] })
  @ApiErrors(400, 404)
  listAccelerators(@Param('brand_id', ParseIdPipe) brandId: number): Promise<AcceleratorResponse[]> {
    return this.accelerators.listByBrand(brandId);
  }

  /** Adds an accelerator card to a brand. */
  @Post('brands/:brand_id/accelerators')
  @ApiCreatedResponse({ type: CreatedResponse })
  @ApiErrors(400, 404)
  async createAccelerator(@Param('brand_id', ParseIdPipe) brandId: number, @Body() dto: CreateAcceleratorDto): Promise<CreatedResponse> {
    const card = await this.accelerators.create(brandId, dto);
    return { id: card.id, message: 'Accelerator created successfully' };
  }

  /** Updates an accelerator card; fields left out keep their values. */
  @Put('accelerators/:id')
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404)
  async updateAccelerator(@Param('id', ParseIdPipe) id: number, @Body() dto: UpdateAcceleratorDto): Promise<MessageResponse> {
    await this.accelerators.update(id, dto);
    return { message: 'Accelerator updated successfully' };
  }

  /** Deletes an accelerator card; servers that referenced it get `model_id` null. */
  @Delete('accelerators/:id')
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404)
  async deleteAccelerator(@Param('id', ParseIdPipe) id: number): Promise<MessageResponse> {
    await this.accelerators.delete(id);
    return { message: 'Accelerator deleted successfully' };
  }
}
