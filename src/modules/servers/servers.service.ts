import { BadRequestException, ConflictException, Inject, Injectable, InternalServerErrorException, Logger, NotFoundException } from '@nestjs/common';
import pLimit from 'p-limit';
import { utils as ssh2Utils } from 'ssh2';
import { CredentialVault } from '../../common/credential-vault.service';
import { definedOnly } from '../../common/objects';
import { serversConfig, ServersConfig } from '../../config/configuration';
import { CachedJson } from '../../database/read-cache.service';
import { ReferenceChecks, ReferrerLookup } from '../../database/references';
import { SshExecutor } from '../../ssh/ssh-executor.service';
import { PoolState, SshPool } from '../../ssh/ssh-pool.service';
import { SshTarget } from '../../ssh/ssh-target';
import {
  CreateServerDto,
  ResourcesResponse,
  ServerAcceleratorsResponse,
  ServerCheckResult,
  ServerResourcesResponse,
  UpdateServerDto,
} from './dto/server.dto';
import { matchInventory } from './accelerators/inventory-match';
import { parseResourceProbe, resourceProbeCommand } from './resource-probe';
import { Server } from './server.entity';
import { ServerAddress, ServerCounts, ServerFields, ServerRow, ServersRepository, ServerWithSecrets } from './servers.repository';
import { probeSshBanner } from './ssh-banner.probe';
import { AuditService } from '../audit/audit.service';
import { AcceleratorsService } from '../inventory/accelerators.service';
import { BrandsService } from '../inventory/brands.service';

type SecretField = 'password' | 'private_key' | 'passphrase';
const SECRET_FIELDS: SecretField[] = ['password', 'private_key', 'passphrase'];

@Injectable()
export class ServersService {
  private readonly logger = new Logger(ServersService.name);
  private readonly references = new ReferenceChecks();
  private readonly probeCommand: string;
  /**
   * The SSH target of each cached server row, decrypted once per row rather than once per command (a task run paid a
   * tenth of its CPU for it): a row is replaced, never changed, when its server is written, so a target cannot go stale.
   */
  private readonly targetsOfCachedRows = new WeakMap<ServerWithSecrets, Readonly<SshTarget>>();

  constructor(
    private readonly servers: ServersRepository,
    private readonly brands: BrandsService,
    private readonly accelerators: AcceleratorsService,
    private readonly vault: CredentialVault,
    private readonly executor: SshExecutor,
    private readonly pool: SshPool,
    private readonly audit: AuditService,
    @Inject(serversConfig.KEY) private readonly config: ServersConfig,
  ) {
    this.probeCommand = resourceProbeCommand(config.resourcesToolTimeoutSeconds);
  }

  list(): Promise<ServerRow[]> {
    return this.servers.list();
  }

  listJson(): Promise<CachedJson> {
    return this.servers.listJson();
  }

  async get(id: number): Promise<ServerRow> {
    const server = await this.servers.findRow(id);
    if (!server) throw new NotFoundException(`Server ${id} not found`);
    return server;
  }

  exists(id: number): Promise<boolean> {
    return this.servers.exists(id);
  }

  counts(): Promise<ServerCounts> {
    return this.servers.counts();
  }

  /** The servers among `ids`, in the order of `ids` (missing ones left out). */
  addresses(ids: number[]): Promise<ServerAddress[]> {
    return this.servers.addresses(ids);
  }

  /** `addresses` from the read cache, for hot paths that accept its bounded staleness (chat). */
  cachedAddresses(ids: number[]): Promise<ServerAddress[]> {
    return this.servers.cachedAddresses(ids);
  }

  /** For the features whose rows name servers (services, tasks): a server they use cannot be deleted. */
  addReferenceCheck(kind: string, lookup: ReferrerLookup): void {
    this.references.register(kind, lookup);
  }

  async create(dto: CreateServerDto): Promise<Server> {
    await this.checkReferences(dto);
    const authType = dto.auth_type ?? 'password';
    this.checkCredentials(authType, dto.private_key, dto.passphrase);
    const server = await this.servers.create({
      ...this.profileFields(dto),
      auth_type: authType,
      ...this.sealedSecrets(dto),
    });
    await this.audit.record({
      action: 'server.create',
      target: `server:${server.id}`,
      detail: { name: server.name, host_ip: server.host_ip, auth_type: authType },
    });
    return server;
  }

  async update(id: number, dto: UpdateServerDto): Promise<void> {
    const stored = await this.requireWithSecrets(id);
    await this.checkReferences(dto);
    const authType = dto.auth_type ?? stored.auth_type;
    const privateKey = nonEmpty(dto.private_key) ?? this.reveal(stored.private_key);
    const passphrase = nonEmpty(dto.passphrase) ?? this.reveal(stored.passphrase);
    if (dto.auth_type !== undefined || nonEmpty(dto.private_key) || nonEmpty(dto.passphrase)) {
      this.checkCredentials(authType, privateKey, passphrase);
    }
    const fields: ServerFields = { ...this.profileFields(dto), ...this.sealedSecrets(dto) };
    if (dto.auth_type !== undefined) fields.auth_type = dto.auth_type;
    const moved = (fields.host_ip !== undefined && fields.host_ip !== stored.host_ip) || (fields.port !== undefined && fields.port !== stored.port);
    // Another address is another machine: its host key must be learned again.
    if (moved) fields.host_key_fingerprint = null;
    await this.servers.update(id, fields);
    // Connections opened with the old credentials are retired (the pool also notices on next use).
    this.pool.disconnect(id);
    const credentials = SECRET_FIELDS.filter((field) => nonEmpty(dto[field]) !== undefined);
    if (credentials.length > 0 || dto.auth_type !== undefined || moved || (fields.username !== undefined && fields.username !== stored.username)) {
      // Which credentials changed, never their values.
      await this.audit.record({
        action: 'server.credentials_change',
        target: `server:${id}`,
        detail: { changed: credentials, auth_type: authType, moved },
      });
    }
  }

  async delete(id: number): Promise<void> {
    const server = await this.get(id);
    const users = await this.references.referrersOf(id);
    if (users.length > 0) {
      const names = users.map((user) => `${user.kind} ${user.name} (id ${user.id})`);
      throw new ConflictException(`Server ${id} is still used by ${names.join(', ')}`);
    }
    await this.servers.delete(id);
    this.pool.disconnect(id);
    await this.audit.record({ action: 'server.delete', target: `server:${id}`, detail: { name: server.name, host_ip: server.host_ip } });
  }

  async resetHostKey(id: number): Promise<void> {
    await this.get(id);
    await this.servers.update(id, { host_key_fingerprint: null });
    this.pool.disconnect(id);
    await this.audit.record({ action: 'server.host_key_reset', target: `server:${id}` });
  }

  async check(id: number): Promise<string> {
    const server = await this.get(id);
    const [result] = await this.checkServers([server]);
    return result.status;
  }

  async checkAll(): Promise<ServerCheckResult[]> {
    return this.checkServers(await this.servers.list());
  }

  async sshState(id: number): Promise<PoolState> {
    await this.get(id);
    return this.pool.state(id);
  }

  async resources(id: number): Promise<ResourcesResponse> {
    return this.measure(await this.requireWithSecrets(id));
  }

  async detectAccelerators(id: number): Promise<ServerAcceleratorsResponse> {
    const server = await this.requireWithSecrets(id);
    const [measured, brands, cards] = await Promise.all([this.measure(server), this.brands.names(), this.accelerators.names()]);
    // A card is known by its name ("NVIDIA H100 80GB") or its model ("H100"): either may be what the tool prints.
    const cardNames = cards.flatMap((card) => [card, { ...card, name: card.model }]);
    const accelerators = (measured.gpus ?? []).map((detected) => {
      const { brand, accelerator_card } = matchInventory(detected, brands, cardNames);
      const card = accelerator_card && cards.find((candidate) => candidate.id === accelerator_card.id)!;
      return { ...detected, brand, accelerator_card: card ? { id: card.id, name: card.name } : null };
    });
    return measured.error ? { accelerators, error: measured.error } : { accelerators };
  }

  /** Every server in parallel (bounded); a dead host costs its own timeout and delays no other. */
  async resourcesAll(): Promise<ServerResourcesResponse[]> {
    const limit = pLimit(this.config.resourcesConcurrency);
    const servers = await this.servers.findAllWithSecrets();
    return Promise.all(servers.map((server) => limit(async () => ({ id: server.id, ...(await this.measure(server)) }))));
  }

  /** The SSH view of a server, secrets decrypted in memory only (as the pool's connections hold them anyway). */
  async sshTarget(id: number): Promise<Readonly<SshTarget>> {
    const server = await this.servers.cachedWithSecrets(id);
    if (!server) throw new NotFoundException(`Server ${id} not found`);
    let target = this.targetsOfCachedRows.get(server);
    if (!target) this.targetsOfCachedRows.set(server, (target = Object.freeze(this.toTarget(server))));
    return target;
  }

  toTarget(server: ServerWithSecrets): SshTarget {
    const useKey = server.auth_type === 'key';
    return {
      serverId: server.id,
      host: server.host_ip,
      port: server.port,
      username: server.username,
      password: useKey ? null : this.reveal(server.password),
      privateKey: useKey ? this.reveal(server.private_key) : null,
      passphrase: useKey ? this.reveal(server.passphrase) : null,
      hostKeyFingerprint: server.host_key_fingerprint,
    };
  }

  private async measure(server: ServerWithSecrets): Promise<ResourcesResponse> {
    const result = await this.executor.exec(this.toTarget(server), this.probeCommand, {
      timeoutMs: this.config.resourcesTimeoutMs,
      pty: false,
    });
    const { metrics, warnings } = parseResourceProbe(result.output);
    if (warnings.length > 0) this.logger.warn(`Resources of server ${server.id}: ${warnings.join('; ')}`);
    if (!result.success && metrics.cpu_usage === null && metrics.memory_usage === null && metrics.disk_usage === null) {
      return { cpu_usage: null, memory_usage: null, disk_usage: null, error: result.error || `Probe exited with status ${result.exit_status}` };
    }
    return metrics;
  }

  private async checkServers(servers: Pick<Server, 'id' | 'host_ip' | 'port'>[]): Promise<ServerCheckResult[]> {
    const checkedAt = new Date();
    // Bounded like resourcesAll: a fleet of hundreds must not open hundreds of sockets at once.
    const limit = pLimit(this.config.resourcesConcurrency);
    const results = await Promise.all(
      servers.map((server) =>
        limit(async () => ({
          id: server.id,
          status: (await probeSshBanner(server.host_ip, server.port, this.config.checkTimeoutMs)) ? 'online' : 'offline',
        })),
      ),
    );
    if (results.length > 0) await this.servers.recordStatuses(results, checkedAt);
    return results;
  }

  private async requireWithSecrets(id: number): Promise<ServerWithSecrets> {
    const server = await this.servers.findWithSecrets(id);
    if (!server) throw new NotFoundException(`Server ${id} not found`);
    return server;
  }

  private async checkReferences(dto: UpdateServerDto): Promise<void> {
    if (dto.brand_id != null && !(await this.brands.exists(dto.brand_id))) {
      throw new BadRequestException(`brand_id ${dto.brand_id} does not exist`);
    }
    if (dto.model_id != null && !(await this.accelerators.exists(dto.model_id))) {
      throw new BadRequestException(`model_id ${dto.model_id} does not exist (it names an accelerator card)`);
    }
  }

  /** Refuses a key that ssh2 could not use, before it is stored (the error never quotes the key). */
  private checkCredentials(authType: string, privateKey?: string | null, passphrase?: string | null): void {
    if (authType !== 'key') return;
    if (!nonEmpty(privateKey)) throw new BadRequestException('private_key is required when auth_type is "key"');
    const parsed = ssh2Utils.parseKey(privateKey!, nonEmpty(passphrase) ?? undefined);
    if (parsed instanceof Error) {
      const reason = /passphrase|decrypt/i.test(parsed.message) ? 'the passphrase is missing or wrong' : 'it is not a supported private key';
      throw new BadRequestException(`private_key cannot be used: ${reason}`);
    }
  }

  private profileFields(dto: UpdateServerDto): ServerFields {
    return definedOnly({
      name: dto.name,
      host_ip: dto.host_ip,
      port: dto.port,
      username: dto.username,
      brand_id: dto.brand_id,
      model_id: dto.model_id,
      agent_port: dto.agent_port,
      chat_port: dto.chat_port,
    });
  }

  /** Secrets that were given, encrypted; absent or empty ones are left out so the stored value stays. */
  private sealedSecrets(dto: UpdateServerDto): ServerFields {
    const fields: ServerFields = {};
    for (const field of SECRET_FIELDS) {
      const value = nonEmpty(dto[field]);
      if (value !== undefined) fields[field] = this.vault.encrypt(value);
    }
    return fields;
  }

  private reveal(sealed: string | null): string | null {
    if (!sealed) return null;
    try {
      return this.vault.decrypt(sealed);
    } catch {
      throw new InternalServerErrorException('Stored server credentials cannot be decrypted: was ENCRYPTION_KEY changed?');
    }
  }
}

function nonEmpty(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value === '' ? undefined : value;
}
