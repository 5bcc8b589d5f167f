import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Req, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../../common/decorators/api-errors.decorator';
import { CreatedResponse, MessageResponse } from '../../common/dto/responses.dto';
import { ParseIdPipe } from '../../common/pipes/parse-id.pipe';
import {
  CheckAllResponse,
  CreateServerDto,
  ResourcesResponse,
  ServerAcceleratorsResponse,
  ServerResourcesResponse,
  ServerResponse,
  ServerStatusResponse,
  SshPoolStateResponse,
  UpdateServerDto,
} from './dto/server.dto';
import { ServersService } from './servers.service';
import { JsonListResponse, sendCachedJson } from '../../common/decorators/json-text.decorator';
import type { IncomingMessage, ServerResponse as HttpResponse } from 'node:http';
import { HotRead } from '../../common/decorators/hot-read.decorator';

@ApiTags('servers')
@Controller('servers')
export class ServersController {
  constructor(private readonly servers: ServersService) {}

  /** Lists servers, newest first, with brand and accelerator card names. Secrets are never returned. */
  @Get()
  @HotRead()
  @JsonListResponse(ServerResponse)
  listServers(@Req() request: IncomingMessage, @Res() response: HttpResponse): Promise<void> {
    return sendCachedJson(request, response, this.servers.listJson());
  }

  /** Registers a server. Secrets are encrypted at rest and never returned. */
  @Post()
  @ApiCreatedResponse({ type: CreatedResponse })
  @ApiErrors(400)
  async createServer(@Body() dto: CreateServerDto): Promise<CreatedResponse> {
    const server = await this.servers.create(dto);
    return { id: server.id, message: 'Server created successfully' };
  }

  /** Probes every server's SSH port in parallel and stores the results. */
  @Post('check-all')
  @HttpCode(200)
  @ApiOkResponse({ type: CheckAllResponse })
  async checkAllServers(): Promise<CheckAllResponse> {
    return { results: await this.servers.checkAll() };
  }

  /**
   * Measures CPU, memory, disk (and GPUs where nvidia-smi exists) of every server in parallel. A host that
   * fails gets nulls and an `error`; it never delays the others beyond its own timeout.
   */
  @Post('resources')
  @HttpCode(200)
  @ApiOkResponse({ type: [ServerResourcesResponse] })
  getAllServerResources(): Promise<ServerResourcesResponse[]> {
    return this.servers.resourcesAll();
  }

  /** One server, with brand and accelerator card names. Secrets are never returned. */
  @Get(':id')
  @ApiOkResponse({ type: ServerResponse })
  @ApiErrors(400, 404)
  getServer(@Param('id', ParseIdPipe) id: number): Promise<ServerResponse> {
    return this.servers.get(id);
  }

  /** Updates a server. Fields left out keep their values; an absent or empty secret keeps the stored one. */
  @Put(':id')
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404)
  async updateServer(@Param('id', ParseIdPipe) id: number, @Body() dto: UpdateServerDto): Promise<MessageResponse> {
    await this.servers.update(id, dto);
    return { message: 'Server updated successfully' };
  }

  /** Deletes a server; refused while a service or task uses it. */
  @Delete(':id')
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404, 409)
  async deleteServer(@Param('id', ParseIdPipe) id: number): Promise<MessageResponse> {
    await this.servers.delete(id);
    return { message: 'Server deleted successfully' };
  }

  /** Probes the server's SSH port and stores `status` and `last_check`. It waits for the SSH banner, with a short timeout. */
  @Post(':id/check')
  @HttpCode(200)
  @ApiOkResponse({ type: ServerStatusResponse })
  @ApiErrors(400, 404)
  async checkServer(@Param('id', ParseIdPipe) id: number): Promise<ServerStatusResponse> {
    return { status: await this.servers.check(id) };
  }

  /** Current CPU, memory and disk usage, and every accelerator its vendors' tools report. One command over the pooled connection. */
  @Get(':id/resources')
  @ApiOkResponse({ type: ResourcesResponse })
  @ApiErrors(400, 404)
  getServerResources(@Param('id', ParseIdPipe) id: number): Promise<ResourcesResponse> {
    return this.servers.resources(id);
  }

  /**
   * The accelerators installed, as their vendors' tools report them now, each with the inventory's brand and card
   * whose names match: what to set as the server's brand and card.
   */
  @Get(':id/accelerators')
  @ApiOkResponse({ type: ServerAcceleratorsResponse })
  @ApiErrors(400, 404)
  getServerAccelerators(@Param('id', ParseIdPipe) id: number): Promise<ServerAcceleratorsResponse> {
    return this.servers.detectAccelerators(id);
  }

  /** What the SSH pool holds for the server now. Connections and the channels open on them; never credentials. */
  @Get(':id/ssh')
  @ApiOkResponse({ type: SshPoolStateResponse })
  @ApiErrors(400, 404)
  getServerSshState(@Param('id', ParseIdPipe) id: number): Promise<SshPoolStateResponse> {
    return this.servers.sshState(id);
  }

  /** Forgets the pinned host key; the next connection pins the key it is shown. */
  @Post(':id/host-key/reset')
  @HttpCode(200)
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404)
  async resetServerHostKey(@Param('id', ParseIdPipe) id: number): Promise<MessageResponse> {
    await this.servers.resetHostKey(id);
    return { message: 'Host key reset successfully' };
  }
}
