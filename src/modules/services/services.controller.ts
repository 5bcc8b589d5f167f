import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../../common/decorators/api-errors.decorator';
import { HistoryQuery } from '../../common/dto/history-query.dto';
import { CreatedResponse, MessageResponse } from '../../common/dto/responses.dto';
import { ParseIdPipe } from '../../common/pipes/parse-id.pipe';
import { CreateServiceDto, DeployResultEntry, ServiceOperationResponse, ServiceResponse, UpdateServiceDto } from './dto/service.dto';
import { ServiceOperations } from './service-operations.service';
import { ServicesService } from './services.service';

@ApiTags('services')
@Controller('services')
export class ServicesController {
  constructor(
    private readonly services: ServicesService,
    private readonly operations: ServiceOperations,
  ) {}

  /**
   * Lists services, newest first, with the model's name.
   *
   * As stored: a status refresh from the agents starts in the background (never more than one at a time). Status rule: `deployed` when every server's agent reports the
   * service running, `online` when every agent answers but not all run it, `offline` when an agent cannot be reached.
   */
  @Get()
  @ApiOkResponse({ type: [ServiceResponse] })
  listServices(): Promise<ServiceResponse[]> {
    return this.services.list();
  }

  /**
   * Creates a service, status `offline`.
   *
   * With servers and a deploy command, a deployment starts in the background.
   */
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

  /** One service, in the list's shape. */
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

  /**
   * Deletes a service with its chat history and operation history.
   *
   * Refused (409) while a deploy, restart or stop is in progress.
   */
  @Delete(':id')
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404, 409)
  async deleteService(@Param('id', ParseIdPipe) id: number): Promise<MessageResponse> {
    await this.services.delete(id);
    return { message: 'Service deleted successfully' };
  }

  /**
   * Restarts the service on all its servers.
   *
   * In parallel, in the background (status `deploying` meanwhile). A second deploy, restart or stop while one is in progress is refused with 409. Its results become the deploy log.
   */
  @Post(':id/restart')
  @HttpCode(200)
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404, 409)
  async restartService(@Param('id', ParseIdPipe) id: number): Promise<MessageResponse> {
    await this.operations.restart(id);
    return { message: 'Service restart initiated' };
  }

  /**
   * Stops the service on all its servers.
   *
   * In parallel, in the background; 409 while another operation is in progress. The status stays as it was until the agents answer; the deploy log is left alone (the history has the results).
   */
  @Post(':id/stop')
  @HttpCode(200)
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404, 409)
  async stopService(@Param('id', ParseIdPipe) id: number): Promise<MessageResponse> {
    await this.operations.stop(id);
    return { message: 'Service stop initiated' };
  }

  /** Per-server results of the latest deploy or restart (`[]` when none). */
  @Get(':id/deploy-log')
  @ApiOkResponse({ type: [DeployResultEntry] })
  @ApiErrors(400, 404)
  getServiceDeployLog(@Param('id', ParseIdPipe) id: number): Promise<DeployResultEntry[]> {
    return this.operations.deployLog(id);
  }

  /**
   * The service's deploys, restarts and stops, newest first.
   *
   * Each with who started it, when, the command sent, the per-server results and how it ended. The newest SERVICE_OPERATIONS_KEEP (100) are kept.
   */
  @Get(':id/operations')
  @ApiOkResponse({ type: [ServiceOperationResponse] })
  @ApiErrors(400, 404)
  listServiceOperations(@Param('id', ParseIdPipe) id: number, @Query() query: HistoryQuery): Promise<ServiceOperationResponse[]> {
    return this.operations.history(id, query.limit);
  }
}
