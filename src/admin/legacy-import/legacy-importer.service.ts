import { Inject, Injectable } from '@nestjs/common';
import { EntityTarget } from 'typeorm';
import { CredentialVault } from '../../common/credential-vault.service';
import { isHost } from '../../common/decorators/network';
import { tasksConfig, TasksConfig } from '../../config/configuration';
import { AuditService } from '../../modules/audit/audit.service';
import { ChatMessage } from '../../modules/chat/chat-message.entity';
import { AcceleratorCard } from '../../modules/inventory/entities/accelerator-card.entity';
import { Brand } from '../../modules/inventory/entities/brand.entity';
import { Model } from '../../modules/inventory/entities/model.entity';
import { UploadsService } from '../../modules/inventory/uploads.service';
import { Server } from '../../modules/servers/server.entity';
import { DeployResult, Service } from '../../modules/services/service.entity';
import { nextSlot } from '../../modules/tasks/schedule';
import { Task, TaskResult } from '../../modules/tasks/task.entity';
import { ImportReport } from './import-report';
import { LegacyDatabase, LegacyRow, LegacyTable } from './legacy-database';
import { LegacyImportRepository, RowWithId } from './legacy-import.repository';
import { LegacyLogos } from './legacy-logos';
import { legacyIdList, legacyInteger, legacyJson, legacyStatus, legacyText, legacyTime } from './legacy-values';

export interface ImportOptions {
  /** The old backend's uploads folder, where its logos are. */
  uploads?: string;
  dryRun: boolean;
  enableTasks: boolean;
}

/** One old row as it would be inserted, with what had to change on the way; or why it is left out. */
type Plan<E> = { values: Partial<E>; changes: string[] } | { skip: string };

interface TableImport<E extends { id: number }> {
  table: LegacyTable;
  entity: EntityTarget<E>;
  /**
   * The columns that recognise a row as already here, imported by an earlier run or entered by hand: a second run
   * maps the old row to it instead of importing it again.
   */
  key: (keyof E & string)[];
  plan(row: LegacyRow): Plan<E>;
  /** Finishes a row that is to be imported, with work not to repeat for rows already here (copying a logo). */
  complete?(values: Partial<E>, legacy: LegacyRow, changes: string[]): Promise<void>;
  /** Inserts the row; by default a plain INSERT. */
  insert?(row: RowWithId<E>, legacy: LegacyRow): Promise<void>;
}

const SCHEDULE_TYPES = ['once', 'daily', 'weekly'];
const CHAT_ROLES = ['system', 'user', 'assistant'];

/** Imports the old Flask backend's database (`infini.db`) into ours; see ImportRun. */
@Injectable()
export class LegacyImporter {
  constructor(
    private readonly repository: LegacyImportRepository,
    private readonly vault: CredentialVault,
    private readonly uploads: UploadsService,
    private readonly audit: AuditService,
    @Inject(tasksConfig.KEY) private readonly tasksConfig: TasksConfig,
  ) {}

  async run(legacy: LegacyDatabase, options: ImportOptions): Promise<ImportReport> {
    const run = new ImportRun(
      legacy,
      options,
      this.repository,
      this.vault,
      new LegacyLogos(this.uploads, options.uploads, options.dryRun),
      this.tasksConfig,
    );
    const report = await run.importAll();
    if (!options.dryRun) {
      this.repository.forgetCachedReads();
      await this.audit.record({ action: 'legacy.import', detail: { file: legacy.path, ...report.counts() } });
    }
    return report;
  }
}

/**
 * One import. Tables go in the order they refer to each other; each old row keeps its id where that is free here and
 * gets a new one otherwise, and the rows that refer to it follow through `ids`. Each row is written on its own (a
 * service with its servers and chat history in one transaction), so a running backend is never held up for long.
 */
class ImportRun {
  readonly report: ImportReport;
  /** Per table: old id → our id, for every row imported now or found already here. */
  private readonly ids = new Map<LegacyTable, Map<number, number>>();
  /** Per table: the old ids of the rows imported by this run. */
  private readonly importedNow = new Map<LegacyTable, Set<number>>();
  /** Per table: every old id, to tell a row that was skipped from one that never existed. */
  private readonly legacyIds = new Map<LegacyTable, Set<number>>();
  /** Old service id → the old chat messages. */
  private chatByService = new Map<number | null, LegacyRow[]>();
  /** Old service id → our ids of its servers, in order: `server_ids` is no column of ours. */
  private readonly serversOfService = new Map<number, number[]>();

  constructor(
    private readonly legacy: LegacyDatabase,
    private readonly options: ImportOptions,
    private readonly repository: LegacyImportRepository,
    private readonly vault: CredentialVault,
    private readonly logos: LegacyLogos,
    private readonly tasksConfig: TasksConfig,
  ) {
    this.report = new ImportReport(options.dryRun);
  }

  async importAll(): Promise<ImportReport> {
    const withLogo = async (values: Partial<Brand | Model>, row: LegacyRow, changes: string[]) => {
      values.logo = await this.logos.ourUrl(row.logo, changes);
    };
    await this.importTable<Brand>({
      table: 'brands',
      entity: Brand,
      key: ['name'],
      plan: (row) =>
        required({ name: row.name }, ({ name }) => ({ name, sort_order: legacyInteger(row.sort_order) ?? 0, created_at: createdAt(row) })),
      complete: withLogo,
    });
    await this.importTable<Model>({
      table: 'models',
      entity: Model,
      key: ['name'],
      plan: (row) => required({ name: row.name }, ({ name }) => ({ name, parameters: legacyText(row.parameters), created_at: createdAt(row) })),
      complete: withLogo,
    });
    await this.importTable<AcceleratorCard>({
      table: 'accelerator_cards',
      entity: AcceleratorCard,
      key: ['brand_id', 'name', 'model'],
      plan: (row) => this.planCard(row),
    });
    await this.importTable<Server>({ table: 'servers', entity: Server, key: ['host_ip', 'port', 'username'], plan: (row) => this.planServer(row) });
    this.chatByService = groupBy(this.legacy.rows('chat_history'), (message) => legacyInteger(message.service_id));
    await this.importTable<Service>({
      table: 'services',
      entity: Service,
      key: ['name', 'model_id'],
      plan: (row) => this.planService(row),
      insert: (service, legacy) => this.repository.insertService(service, this.serversOfService.get(legacy.id)!, this.chatOf(legacy.id).messages),
    });
    this.reportChat();
    await this.importTable<Task>({ table: 'tasks', entity: Task, key: ['name', 'server_id', 'command'], plan: (row) => this.planTask(row) });
    if (this.options.enableTasks) this.report.tasksEnabled = this.importedNow.get('tasks')!.size;
    this.report.logosCopied = this.logos.count;
    return this.report;
  }

  private async importTable<E extends { id: number }>(spec: TableImport<E>): Promise<void> {
    const rows = this.legacy.rows(spec.table);
    const ids = new Map<number, number>();
    const importedNow = new Set<number>();
    this.ids.set(spec.table, ids);
    this.importedNow.set(spec.table, importedNow);
    this.legacyIds.set(spec.table, new Set(rows.map((row) => row.id)));
    const keyOf = (values: Partial<E>) => JSON.stringify(spec.key.map((column) => values[column] ?? null));
    const present = await this.repository.existing(spec.entity, ['id', ...spec.key]);
    const taken = new Set(present.map((row) => row.id));
    /** Natural key → our id, and the old id when a row of this run brought it. */
    const known = new Map<string, { id: number; legacyId?: number }>(present.map((row) => [keyOf(row), { id: row.id }]));
    // New ids come after every id here and every old one, so that no row takes an id that a later row keeps.
    let lastId = Math.max(0, ...taken, ...rows.map((row) => row.id));
    if (!this.options.dryRun) await this.repository.reserveIds(spec.entity, lastId + rows.length);
    for (const row of rows) {
      const plan = spec.plan(row);
      if ('skip' in plan) {
        this.report.skipped(spec.table, row.id, plan.skip);
        continue;
      }
      const key = keyOf(plan.values);
      const same = known.get(key);
      if (same) {
        ids.set(row.id, same.id);
        if (same.legacyId === undefined) this.report.alreadyPresent(spec.table);
        else this.report.skipped(spec.table, row.id, `the same ${spec.key.join(', ')} as #${same.legacyId}`);
        continue;
      }
      const values = { ...plan.values, id: taken.has(row.id) ? ++lastId : row.id } as RowWithId<E>;
      try {
        await spec.complete?.(values, row, plan.changes);
        if (!this.options.dryRun) await (spec.insert ? spec.insert(values, row) : this.repository.insert(spec.entity, values));
      } catch (error) {
        this.report.skipped(spec.table, row.id, `the database refused it: ${(error as Error).message}`);
        continue;
      }
      taken.add(values.id);
      known.set(key, { id: values.id, legacyId: row.id });
      ids.set(row.id, values.id);
      importedNow.add(row.id);
      this.report.imported(spec.table, row.id, values.id, plan.changes);
    }
  }

  /** Our id for a reference to `table`, or why there is none (the row was skipped, or never existed). */
  private reference(table: LegacyTable, column: string, value: unknown): { id: number } | { skip: string } {
    const legacyId = legacyInteger(value);
    if (legacyId === null) return { skip: `no ${column}` };
    const id = this.ids.get(table)!.get(legacyId);
    if (id !== undefined) return { id };
    return { skip: this.legacyIds.get(table)!.has(legacyId) ? `${column} ${legacyId} was not imported` : `dangling ${column} ${legacyId}` };
  }

  /** An optional reference: null when empty, or (with the reason in `changes`) when it leads nowhere. */
  private optionalReference(table: LegacyTable, column: string, value: unknown, changes: string[]): number | null {
    if (legacyText(value) === null) return null;
    const reference = this.reference(table, column, value);
    if ('id' in reference) return reference.id;
    changes.push(`${reference.skip}: cleared`);
    return null;
  }

  private planCard(row: LegacyRow): Plan<AcceleratorCard> {
    const brand = this.reference('brands', 'brand_id', row.brand_id);
    if ('skip' in brand) return brand;
    return required({ name: row.name, model: row.model }, ({ name, model }) => ({
      brand_id: brand.id,
      name,
      model,
      ...Object.fromEntries(PERFORMANCE_COLUMNS.map((column) => [column, legacyText(row[column])])),
      created_at: createdAt(row),
    }));
  }

  private planServer(row: LegacyRow): Plan<Server> {
    const hostIp = legacyText(row.host_ip)?.trim();
    if (hostIp && !isHost(hostIp)) return { skip: `host_ip ${JSON.stringify(hostIp)} is not a host name or address` };
    return required({ name: row.name, host_ip: hostIp, username: row.username }, ({ name, host_ip, username }, changes) => {
      const password = legacyText(row.password);
      if (!password) changes.push('empty password: imported without one, set it before connecting');
      return {
        name,
        host_ip,
        username,
        port: port(row, 'port', 22, changes),
        agent_port: port(row, 'agent_port', 8888, changes),
        brand_id: this.optionalReference('brands', 'brand_id', row.brand_id, changes),
        model_id: this.optionalReference('accelerator_cards', 'model_id', row.model_id, changes),
        auth_type: 'password',
        // A dry run writes no password, so it encrypts none.
        password: password && !this.options.dryRun ? this.vault.encrypt(password) : null,
        status: status('server', row.status, changes),
        last_check: legacyTime(row.last_check),
        created_at: createdAt(row),
      };
    });
  }

  private planService(row: LegacyRow): Plan<Service> {
    const model = this.reference('models', 'model_id', row.model_id);
    if ('skip' in model) return model;
    const listed = legacyIdList(row.server_ids);
    if (!listed) return { skip: `malformed server_ids ${JSON.stringify(legacyText(row.server_ids)?.slice(0, 40) ?? null)}` };
    return required({ name: row.name }, ({ name }, changes) => {
      const servers = this.ids.get('servers')!;
      const missing = listed.filter((id) => !servers.has(id));
      if (missing.length > 0) changes.push(`server_ids ${missing.join(', ')} were not imported: left out`);
      this.serversOfService.set(
        row.id,
        listed.filter((id) => servers.has(id)).map((id) => servers.get(id)!),
      );
      return {
        name,
        model_id: model.id,
        deploy_command: legacyText(row.deploy_command),
        deploy_status: status('service', row.deploy_status, changes),
        deploy_result: this.deployResult(row.deploy_result, changes),
        created_at: createdAt(row),
      };
    });
  }

  /** The per-server results of the last deployment, with the servers' new ids. */
  private deployResult(value: unknown, changes: string[]): DeployResult[] | null {
    if (legacyText(value) === null) return null;
    const results = legacyJson(value);
    if (!Array.isArray(results) || !results.every((result) => typeof result === 'object' && result !== null)) {
      changes.push('unreadable deploy_result left out');
      return null;
    }
    const servers = this.ids.get('servers')!;
    return (results as DeployResult[]).map((result) => ({ ...result, server_id: servers.get(result.server_id) ?? result.server_id }));
  }

  /** The chat history of an old service as we store it (new ids: nothing refers to them), and the messages left out. */
  private chatOf(legacyServiceId: number): { messages: Partial<ChatMessage>[]; skipped: [number, string][] } {
    const messages: Partial<ChatMessage>[] = [];
    const skipped: [number, string][] = [];
    for (const message of this.chatByService.get(legacyServiceId) ?? []) {
      const role = legacyText(message.role);
      if (!role || !CHAT_ROLES.includes(role)) skipped.push([message.id, `unknown role ${JSON.stringify(message.role ?? null)}`]);
      else if (typeof message.content !== 'string') skipped.push([message.id, 'no content']);
      else messages.push({ role, content: message.content, created_at: createdAt(message) });
    }
    return { messages, skipped };
  }

  /** Chat messages travel with their service: imported with it, already here with it, or left out with it. */
  private reportChat(): void {
    const services = this.ids.get('services')!;
    const importedNow = this.importedNow.get('services')!;
    for (const [serviceId, messages] of this.chatByService) {
      if (serviceId === null || !services.has(serviceId)) {
        const reason = (this.reference('services', 'service_id', serviceId) as { skip: string }).skip;
        for (const message of messages) this.report.skipped('chat_history', message.id, reason);
        continue;
      }
      const skipped = new Map(this.chatOf(serviceId).skipped);
      for (const message of messages) {
        const reason = skipped.get(message.id);
        if (reason) this.report.skipped('chat_history', message.id, reason);
        else if (importedNow.has(serviceId)) this.report.imported('chat_history', message.id, message.id, []);
        else this.report.alreadyPresent('chat_history');
      }
    }
  }

  private planTask(row: LegacyRow): Plan<Task> {
    const server = this.reference('servers', 'server_id', row.server_id);
    if ('skip' in server) return server;
    const scheduleType = legacyText(row.schedule_type)?.trim().toLowerCase() ?? '';
    if (!SCHEDULE_TYPES.includes(scheduleType)) return { skip: `unknown schedule_type ${JSON.stringify(row.schedule_type ?? null)}` };
    return required({ name: row.name, command: row.command }, ({ name, command }, changes) => {
      const taskStatus = status('task', row.status, changes);
      const lastRun = legacyTime(row.last_run);
      const created = createdAt(row);
      // A once task that has run is done: enabling it must not run it again.
      const due = this.options.enableTasks && !(scheduleType === 'once' && (lastRun !== null || taskStatus !== 'pending'));
      return {
        name,
        command,
        command_set_by: null,
        server_id: server.id,
        schedule_type: scheduleType,
        enabled: this.options.enableTasks,
        next_run: due ? nextSlot({ schedule_type: scheduleType, timezone: this.tasksConfig.defaultTimezone, created_at: created }, new Date()) : null,
        timeout_seconds: this.tasksConfig.timeoutSeconds,
        status: taskStatus,
        last_run: lastRun,
        result: taskResult(row.result, changes),
        created_at: created,
      };
    });
  }
}

const PERFORMANCE_COLUMNS = ['memory', 'fp8_perf', 'int8_perf', 'bf16_perf', 'fp16_perf', 'fp32_perf', 'interconnect_bandwidth'] as const;

/** The plan `build` makes of the required text `fields`, or a skip naming the first that is empty. */
function required<F extends string, E>(fields: Record<F, unknown>, build: (values: Record<F, string>, changes: string[]) => Partial<E>): Plan<E> {
  const values = {} as Record<F, string>;
  for (const [field, value] of Object.entries(fields) as [F, unknown][]) {
    const text = legacyText(value);
    if (text === null) return { skip: `no ${field}` };
    values[field] = text;
  }
  const changes: string[] = [];
  return { values: build(values, changes), changes };
}

/** One of our statuses for an old one, with the change in `changes` when it was not ours already. */
function status(kind: Parameters<typeof legacyStatus>[0], value: unknown, changes: string[]): string {
  const mapped = legacyStatus(kind, value);
  if (mapped.change) changes.push(mapped.change);
  return mapped.status;
}

/** The old `{output, error, success}` of a task's last run. */
function taskResult(value: unknown, changes: string[]): TaskResult | null {
  if (legacyText(value) === null) return null;
  const result = legacyJson(value) as Partial<TaskResult> | undefined;
  if (typeof result !== 'object' || result === null || Array.isArray(result)) {
    changes.push('unreadable result left out');
    return null;
  }
  return { output: String(result.output ?? ''), error: String(result.error ?? ''), success: result.success === true };
}

/** A port, or `fallback` (with the reason in `changes` when something else was stored). */
function port(row: LegacyRow, column: string, fallback: number, changes: string[]): number {
  const value = legacyInteger(row[column]);
  if (value !== null && value >= 1 && value <= 65535) return value;
  if (row[column] !== null && row[column] !== undefined) changes.push(`${column} ${JSON.stringify(row[column])} is not a port: ${fallback} instead`);
  return fallback;
}

/** When the old row was created; the import's time when it says nothing usable. */
function createdAt(row: LegacyRow): Date {
  return legacyTime(row.created_at) ?? new Date();
}

function groupBy<T, K>(items: T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}
