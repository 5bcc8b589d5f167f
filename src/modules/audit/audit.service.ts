import { Injectable, Logger } from '@nestjs/common';
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

/** Records security-relevant actions (see docs of each call site) into `audit_events`. */
@Injectable()
export class AuditService {
  private readonly logger = new Logger(AuditService.name);

  constructor(private readonly repository: AuditRepository) {}

  /** Awaited by callers so the row exists when their answer goes out; a failing insert is logged, never thrown. */
  async record(entry: AuditEntry): Promise<void> {
    const context = RequestContext.current();
    const actor = entry.actor ?? { username: context?.principal?.username ?? null, ip: context?.ip ?? null };
    try {
      await this.repository.insert({
        at: new Date(),
        username: actor.username,
        ip: actor.ip,
        action: entry.action,
        target: entry.target ?? null,
        detail: entry.detail ? JSON.stringify(maskSecrets(entry.detail)) : null,
      });
    } catch (error) {
      this.logger.error(`Could not record audit event ${entry.action}: ${(error as Error).message}`);
    }
  }

  page(filter: AuditFilter, offset: number, limit: number): Promise<{ events: AuditEvent[]; total: number }> {
    return this.repository.page(filter, offset, limit);
  }
}

