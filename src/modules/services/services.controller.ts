import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../../common/decorators/api-errors.decorator';
import { CreatedResponse, MessageResponse } from '../../common/dto/responses.dto';
import { ParseIdPipe } from '../../common/pipes/parse-id.pipe';
import { CreateServiceDto, DeployResultEntry, ServiceResponse, UpdateServiceDto } from './dto/service.dto';
import { ServicesService } from './services.service';

@ApiTags('services')
@Controller('services')
export class ServicesController {
  constructor(private readonly services: ServicesService) {}

  /**
   * Lists services, newest first, with the model's name, as stored; a status refresh from the agents starts in
   * the background (never more than one at a time). Status rule: `deployed` when every server's agent reports the
   * service running, `online` when every agent answers but not all run it, `offline` when an agent cannot be reached.
   */
  @Get()
  @ApiOkResponse({ type: [ServiceResponse] })
  listServices(): Promise<ServiceResponse[]> {
    return this.services.list();
  }

  /** Creates a service (status `offline`); with servers and a deploy command, a deployment starts in the background. */
  @Post()
  @ApiCreatedResponse({ type: CreatedResponse })
  @ApiErrors(400)
  async createService(@Body() dto: CreateServiceDto): Promise<CreatedResponse> {
    const service = await this.services.create(dto);
    return { id: service.id, message: 'Service created successfully' };
  }

  /** Queries every service's agents now and returns the refreshed list. */
  @Post('refresh-status')
  @HttpCode(200)
  @ApiOkResponse({ type: [ServiceResponse] })
  refreshServiceStatus(): Promise<ServiceResponse[]> {
    return this.services.refreshAndList();
  }

  @Get(':id')
  @ApiOkResponse({ type: ServiceResponse })
  @ApiErrors(400, 404)
  getService(@Param('id', ParseIdPipe) id: number): Promise<ServiceResponse> {
    return this.services.get(id);
  }

  /** Updates a service; fields left out keep their values. Never redeploys. */
  @Put(':id')
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404)
  async updateService(@Param('id', ParseIdPipe) id: number, @Body() dto: UpdateServiceDto): Promise<MessageResponse> {
    await this.services.update(id, dto);
    return { message: 'Service updated successfully' };
  }

  /** Deletes a service and its chat history; refused (409) while a deploy, restart or stop is in progress. */
  @Delete(':id')
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404, 409)
  async deleteService(@Param('id', ParseIdPipe) id: number): Promise<MessageResponse> {
    await this.services.delete(id);
    return { message: 'Service deleted successfully' };
  }

  /**
   * Restarts the service on all its servers in parallel, in the background (status `deploying` meanwhile).
   * A second deploy, restart or stop while one is in progress is refused with 409.
   */
  @Post(':id/restart')
  @HttpCode(200)
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404, 409)
  async restartService(@Param('id', ParseIdPipe) id: number): Promise<MessageResponse> {
    await this.services.restart(id);
    return { message: 'Service restart initiated' };
  }

  /** Stops the service on all its servers in parallel, in the background; 409 while another operation is in progress. */
  @Post(':id/stop')
  @HttpCode(200)
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404, 409)
  async stopService(@Param('id', ParseIdPipe) id: number): Promise<MessageResponse> {
    await this.services.stop(id);
    return { message: 'Service stop initiated' };
  }

  /** Per-server results of the last deploy, restart or stop (`[]` when none). */
  @Get(':id/deploy-log')
  @ApiOkResponse({ type: [DeployResultEntry] })
  @ApiErrors(400, 404)
  getServiceDeployLog(@Param('id', ParseIdPipe) id: number): Promise<DeployResultEntry[]> {
    return this.services.deployLog(id);
  }
}
