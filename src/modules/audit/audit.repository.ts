import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { RowsById } from '../../database/rows-by-id';
import { AuditEvent } from './audit-event.entity';

export interface AuditFilter {
  username?: string;
  action?: string;
  from?: Date;
  to?: Date;
}

@Injectable()
export class AuditRepository {
  private readonly rows: RowsById<AuditEvent>;

  constructor(@InjectRepository(AuditEvent) private readonly events: Repository<AuditEvent>) {
    this.rows = new RowsById(events.manager, AuditEvent);
  }

  insert(event: Omit<AuditEvent, 'id'>): Promise<void> {
    return this.insertMany([event]);
  }

  /** One statement for all of them, reading nothing back: the event written before every task run is on its way. */
  insertMany(events: Omit<AuditEvent, 'id'>[]): Promise<void> {
    return this.rows.insert(events);
  }

  /** Replaces the detail of the newest `action` event of this username and address since `since`; false when there is none. */
  async updateLatestDetail(match: { action: string; username: string | null; ip: string | null; since: Date }, detail: string): Promise<boolean> {
    const query = this.events
      .createQueryBuilder('event')
      .select('event.id')
      .where('event.action = :action', { action: match.action })
      .andWhere('event.at >= :since', { since: match.since });
    query.andWhere(match.username === null ? 'event.username IS NULL' : 'event.username = :username', { username: match.username });
    query.andWhere(match.ip === null ? 'event.ip IS NULL' : 'event.ip = :ip', { ip: match.ip });
    const latest = await query.orderBy('event.id', 'DESC').getOne();
    if (!latest) return false;
    await this.events.update(latest.id, { detail });
    return true;
  }

  /** Deletes the events recorded before `cutoff`; returns how many. */
  async deleteBefore(cutoff: Date): Promise<number> {
    const result = await this.events.createQueryBuilder().delete().where('at < :cutoff', { cutoff }).execute();
    return result.affected ?? 0;
  }

  /** Newest first; `action` matches exactly, or as a prefix when it ends with `.` (e.g. `auth.`). */
  async page(filter: AuditFilter, offset: number, limit: number): Promise<{ events: AuditEvent[]; total: number }> {
    const query = this.events.createQueryBuilder('event');
    // Usernames sign in in any letter case, and failed sign-ins are recorded as typed.
    if (filter.username !== undefined) query.andWhere('LOWER(event.username) = LOWER(:username)', { username: filter.username });
    if (filter.action?.endsWith('.')) {
      // "chat_history." must not match "chatXhistory.": LIKE's wildcards in the prefix are taken literally.
      query.andWhere(`event.action LIKE :prefix ESCAPE '\\'`, { prefix: `${filter.action.replace(/[\\%_]/g, '\\$&')}%` });
    } else if (filter.action !== undefined) query.andWhere('event.action = :action', { action: filter.action });
    if (filter.from) query.andWhere('event.at >= :from', { from: filter.from });
    if (filter.to) query.andWhere('event.at <= :to', { to: filter.to });
    const [events, total] = await query.orderBy('event.at', 'DESC').addOrderBy('event.id', 'DESC').skip(offset).take(limit).getManyAndCount();
    return { events, total };
  }
}
