import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { chatConfig, ChatConfig } from '../../config/configuration';
import { OpenAiModel, OpenAiModelList } from '../chat/dto/openai.dto';
import { ModelServerProxy, RelayedEndpoint } from '../chat/model-server-proxy.service';
import { OpenAiException } from '../chat/openai-errors';
import { ServiceHost } from '../services/services.repository';
import { ServicesService } from '../services/services.service';
import { ReplicaBalancer } from './replica-balancer';

const OWNER = 'infinistudio';

/**
 * One OpenAI-compatible endpoint for every deployed model: a request goes, by its `model`, to the model servers of
 * the deployed services of that model (each of their servers a replica), spread by ReplicaBalancer.
 */
@Injectable()
export class GatewayService {
  private readonly replicas: ReplicaBalancer;

  constructor(
    private readonly services: ServicesService,
    private readonly proxy: ModelServerProxy,
    @Inject(chatConfig.KEY) config: ChatConfig,
  ) {
    this.replicas = new ReplicaBalancer(config.gatewayCooldownMs);
  }

  /** The models routable now: those of deployed services, each listed once, as old as its oldest service. */
  async models(): Promise<OpenAiModelList> {
    const created = new Map<string, number>();
    for (const service of await this.services.deployed()) {
      if (!service.model_name) continue;
      const since = Math.floor(new Date(service.created_at).getTime() / 1000);
      created.set(service.model_name, Math.min(created.get(service.model_name) ?? since, since));
    }
    const data: OpenAiModel[] = [...created.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, since]) => ({ id, object: 'model', created: since, owned_by: OWNER }));
    return { object: 'list', data };
  }

  async model(id: string): Promise<OpenAiModel> {
    const found = (await this.models()).data.find((model) => model.id === id);
    if (!found) throw modelNotFound(id);
    return found;
  }

  async relay(endpoint: RelayedEndpoint, body: Record<string, unknown>, response: Response): Promise<void> {
    const model = body.model;
    if (typeof model !== 'string' || model === '') {
      throw new OpenAiException(HttpStatus.BAD_REQUEST, 'model is required: the gateway routes by it', 'invalid_value', 'model');
    }
    const replicas = await this.replicasOf(model);
    if (replicas.length === 0) throw modelNotFound(model);
    const ordered = this.replicas.order(replicas, addressOf);
    await this.proxy.relayTo(ordered, endpoint, body, response, this.replicas);
  }

  /** Every server of every deployed service of the model, each once. */
  private async replicasOf(model: string): Promise<ServiceHost[]> {
    const serving = (await this.services.deployed()).filter((service) => service.model_name === model);
    const hosts = (await Promise.all(serving.map((service) => this.services.hostsOf(service.id)))).flat();
    return [...new Map(hosts.map((host) => [addressOf(host), host])).values()];
  }
}

function addressOf(host: ServiceHost): string {
  return `${host.host_ip}:${host.chat_port}`;
}

function modelNotFound(model: string): OpenAiException {
  return new OpenAiException(HttpStatus.NOT_FOUND, `The model '${model}' does not exist or is not deployed`, 'model_not_found', 'model');
}
