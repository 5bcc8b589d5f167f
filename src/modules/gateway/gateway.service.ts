import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { Principal } from '../../common/request-context';
import { chatConfig, ChatConfig } from '../../config/configuration';
import { BackendMetrics } from '../../observability/backend-metrics.service';
import { OpenAiModel, OpenAiModelList } from '../chat/dto/openai.dto';
import { ModelServerProxy, RelayedEndpoint } from '../chat/model-server-proxy.service';
import { OpenAiException } from '../chat/openai-errors';
import { ServiceHost, ServiceRow } from '../services/services.repository';
import { ServicesService } from '../services/services.service';
import { GatewayUsageService } from './gateway-usage.service';
import { ReplicaBalancer } from './replica-balancer';
import { TokenRateLimits } from './token-rate-limits';
import { UsageMeter } from './usage-meter';

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
    private readonly limits: TokenRateLimits,
    private readonly usage: GatewayUsageService,
    private readonly metrics: BackendMetrics,
    @Inject(chatConfig.KEY) config: ChatConfig,
  ) {
    this.replicas = new ReplicaBalancer(config.gatewayCooldownMs);
  }

  /** The models routable now: the names (model and aliases) of deployed services, each once, as old as its oldest service. */
  async models(): Promise<OpenAiModelList> {
    const created = new Map<string, number>();
    for (const service of await this.services.deployed()) {
      const since = Math.floor(new Date(service.created_at).getTime() / 1000);
      for (const name of namesOf(service)) created.set(name, Math.min(created.get(name) ?? since, since));
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

  /**
   * Relays one call to a replica of its model, within the caller's token limits; counts it (and the tokens the
   * model server reports) in the usage and the metrics, whatever the outcome.
   */
  async relay(principal: Principal, endpoint: RelayedEndpoint, body: Record<string, unknown>, response: Response): Promise<void> {
    const model = body.model;
    if (typeof model !== 'string' || model === '') {
      throw new OpenAiException(HttpStatus.BAD_REQUEST, 'model is required: the gateway routes by it', 'invalid_value', 'model');
    }
    const replicas = await this.replicasOf(model);
    if (replicas.length === 0) throw modelNotFound(model);
    try {
      await this.limits.admit(principal, response);
    } catch (refusal) {
      this.metrics.gatewayCallEnded(model, 'rate_limited');
      throw refusal;
    }
    const { meter, upstreamBody } = UsageMeter.of(endpoint, body);
    let answered = false;
    try {
      await this.proxy.relayTo(this.replicas.order(replicas, addressOf), endpoint, upstreamBody, response, {
        replicas: this.replicas,
        watcher: meter,
        modelOf: (replica) => replica.served_model,
      });
      answered = response.statusCode < 400 && !meter.failed;
    } finally {
      const tokens = meter.usage;
      // A relay that returns without ending the answer saw its client leave.
      this.metrics.gatewayCallEnded(model, !answered ? 'error' : response.writableEnded ? 'ok' : 'abandoned', tokens);
      await this.limits.spend(principal, tokens?.total_tokens ?? 0);
      this.usage.record(principal, model, tokens);
    }
  }

  /**
   * Every server of every deployed service of the model (by its name or an alias), each once, with the name its
   * model server knows the model by: an alias is the gateway's, the model server serves the model's own name.
   */
  private async replicasOf(model: string): Promise<Replica[]> {
    const serving = (await this.services.deployed()).filter((service) => namesOf(service).includes(model));
    const hosts = await Promise.all(
      serving.map(async (service) =>
        (await this.services.hostsOf(service.id)).map((host): Replica => ({ ...host, served_model: service.model_name ?? model })),
      ),
    );
    return [...new Map(hosts.flat().map((host) => [addressOf(host), host])).values()];
  }
}

/** A server of a service of the model asked for, and the name its model server serves the model by. */
type Replica = ServiceHost & { served_model: string };

/** The model names a service answers to. */
function namesOf(service: ServiceRow): string[] {
  return service.model_name ? [service.model_name, ...service.aliases] : service.aliases;
}

function addressOf(host: ServiceHost): string {
  return `${host.host_ip}:${host.chat_port}`;
}

/** The longest model name echoed in an error: no model is named longer (inventory names are at most 255 characters). */
const ECHOED_NAME_LIMIT = 255;

function modelNotFound(model: string): OpenAiException {
  const name = model.length > ECHOED_NAME_LIMIT ? `${model.slice(0, ECHOED_NAME_LIMIT)}…` : model;
  return new OpenAiException(HttpStatus.NOT_FOUND, `The model '${name}' does not exist or is not deployed`, 'model_not_found', 'model');
}
