import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { auditConfig, AuditConfig } from '../../config/configuration';
import { RequestContext } from '../../common/request-context';
import { maskSecrets } from '../../common/secrets';
import { AuditEvent } from './audit-event.entity';
import { AuditFilter, AuditRepository } from './audit.repository';

export interface AuditEntry {
  /** e.g. `server.delete`. */
  action: string;
  /** e.g. `server:3`. */
  target?: string;
  /** Particulars; secret-named fields are masked whatever the caller passes. */
  detail?: Record<string, unknown>;
  /** Who and from where, when not the current HTTP request's caller (sockets, failed logins). */
  actor?: { username: string | null; ip: string | null };
}

/** Where an event stands in a series of like events (same action, username and address) within a window. */
export interface AuditOccurrence {
  /** 1 for the first of the series. */
  count: number;
  /** When the series' window began. */
  since: Date;
}

const DAY_MS = 24 * 3600 * 1000;

/** Records security-relevant actions (see docs of each call site) into `audit_events`, kept AUDIT_RETENTION_DAYS. */
@Injectable()
export class AuditService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AuditService.name);
  private pruneTimer?: NodeJS.Timeout;

  constructor(
    private readonly repository: AuditRepository,
    @Inject(auditConfig.KEY) private readonly config: AuditConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.retentionDays === 0) return;
    await this.prune();
    this.pruneTimer = setInterval(() => void this.prune(), DAY_MS).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.pruneTimer);
  }

  /** Deletes events past the retention period; a failure is logged and retried at the next run. */
  async prune(): Promise<void> {
    try {
      const deleted = await this.repository.deleteBefore(new Date(Date.now() - this.config.retentionDays * DAY_MS));
      if (deleted > 0) this.logger.log(`Deleted ${deleted} audit events older than ${this.config.retentionDays} days`);
    } catch (error) {
      this.logger.error(`Could not delete old audit events: ${(error as Error).message}`);
    }
  }

  /** Awaited by callers so the row exists when their answer goes out; a failing insert is logged, never thrown. */
  async record(entry: AuditEntry): Promise<void> {
    try {
      await this.repository.insert(this.rowOf(entry));
    } catch (error) {
      this.logger.error(`Could not record audit event ${entry.action}: ${(error as Error).message}`);
    }
  }

  /** `record` for many events at once (a scheduler poll's runs), in one statement. */
  async recordMany(entries: AuditEntry[]): Promise<void> {
    try {
      await this.repository.insertMany(entries.map((entry) => this.rowOf(entry)));
    } catch (error) {
      this.logger.error(`Could not record ${entries.length} audit events: ${(error as Error).message}`);
    }
  }

  /** The row of an entry by the current request's caller, unless the entry names its actor. */
  private rowOf(entry: AuditEntry): Omit<AuditEvent, 'id'> {
    const context = RequestContext.current();
    const actor = entry.actor ?? { username: context?.principal?.username ?? null, ip: context?.ip ?? null };
    return this.toRow(entry.action, actor, entry.target, entry.detail);
  }

  /**
   * Records an event that an attacker can repeat at will (a failed sign-in) as one row per series: the first inserts
   * it, later ones set its `detail.count` and `detail.last_at`. The row's `at` is the series' first event.
   */
  async recordSeries(entry: AuditEntry & { actor: NonNullable<AuditEntry['actor']> }, occurrence: AuditOccurrence): Promise<void> {
    const now = new Date();
    const row = this.toRow(entry.action, entry.actor, entry.target, { ...entry.detail, count: occurrence.count, last_at: now.toISOString() }, now);
    try {
      // Also inserted when the first row is missing (its insert failed, or is still running beside this one).
      const updated =
        occurrence.count > 1 &&
        (await this.repository.updateLatestDetail({ ...entry.actor, action: entry.action, since: occurrence.since }, row.detail!));
      if (!updated) await this.repository.insert(row);
    } catch (error) {
      this.logger.error(`Could not record audit event ${entry.action}: ${(error as Error).message}`);
    }
  }

  page(filter: AuditFilter, offset: number, limit: number): Promise<{ events: AuditEvent[]; total: number }> {
    return this.repository.page(filter, offset, limit);
  }

  private toRow(
    action: string,
    actor: NonNullable<AuditEntry['actor']>,
    target?: string,
    detail?: Record<string, unknown>,
    at = new Date(),
  ): Omit<AuditEvent, 'id'> {
    return {
      at,
      username: actor.username,
      ip: actor.ip,
      action,
      target: target ?? null,
      detail: detail ? JSON.stringify(maskSecrets(detail)) : null,
    };
  }
}
