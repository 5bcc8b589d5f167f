import { BadRequestException, BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { parseIsoDateTime } from '../../common/decorators/fields';
import { Principal } from '../../common/request-context';
import { ApiTokensService } from '../auth/api-tokens.service';
import { UsersService } from '../auth/users.service';
import { UsageCounts, UsageEntry, UsageQuery, UsageReport } from './dto/usage.dto';
import { GatewayUsageRepository, UsageKey } from './gateway-usage.repository';
import { TokenUsage } from './usage-meter';

const DAY_MS = 86_400_000;
/** The default report: the last 30 days. */
const DEFAULT_DAYS = 30;
/** The longest report: a year and a day, so that any year fits. */
const MAX_DAYS = 367;

/** How often counted calls are written: one upsert per day, caller, token and model, however many calls came. */
const FLUSH_INTERVAL_MS = 1000;

/**
 * Counts each gateway call per day, caller, token and model, and reports it. Calls are added up in memory and written
 * every FLUSH_INTERVAL_MS (a busy gateway would otherwise write a row per call); a report and the shutdown write
 * what is counted first. Each instance adds its own counts to the shared rows, so several instances sum correctly; a
 * crash loses at most the last interval's.
 */
@Injectable()
export class GatewayUsageService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(GatewayUsageService.name);
  private counted = new Map<string, { key: UsageKey; counts: UsageCounts }>();
  /** The writes so far, in order: awaiting it means every call counted before is in the database. */
  private written: Promise<void> = Promise.resolve();
  private flushTimer?: NodeJS.Timeout;

  constructor(
    private readonly usage: GatewayUsageRepository,
    private readonly tokens: ApiTokensService,
    private readonly users: UsersService,
  ) {}

  onApplicationBootstrap(): void {
    this.flushTimer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS).unref();
  }

  /** Before the database closes, what was counted is written. */
  beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.flushTimer);
    return this.flush();
  }

  /** Counts a call, and its tokens when the model server reported them. */
  record(principal: Principal, model: string, tokens: TokenUsage | undefined, at = new Date()): void {
    const key: UsageKey = { day: dayOf(at), user_id: principal.userId ?? 0, token_id: principal.tokenId ?? 0, model };
    const id = `${key.day} ${key.user_id} ${key.token_id} ${model}`;
    let entry = this.counted.get(id);
    if (!entry) {
      entry = { key, counts: { requests: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 } };
      this.counted.set(id, entry);
    }
    entry.counts.requests += 1;
    entry.counts.prompt_tokens += tokens?.prompt_tokens ?? 0;
    entry.counts.completion_tokens += tokens?.completion_tokens ?? 0;
    entry.counts.total_tokens += tokens?.total_tokens ?? 0;
  }

  /** Writes what has been counted; resolves once it (and every earlier write) is done. A failed write costs a log line. */
  flush(): Promise<void> {
    this.written = this.written.then(async () => {
      const batch = [...this.counted.values()];
      this.counted = new Map();
      for (const { key, counts } of batch) {
        await this.usage.add(key, counts).catch((error: Error) => this.logger.warn(`Could not record gateway usage: ${error.message}`));
      }
    });
    return this.written;
  }

  /** Usage in the query's days: everyone's for an admin, the caller's own for anyone else. */
  async report(principal: Principal, query: UsageQuery): Promise<UsageReport> {
    await this.flush();
    const to = query.to ?? dayOf(new Date());
    const from = query.from ?? dayOf(new Date(dayStart(to, 'to') - (DEFAULT_DAYS - 1) * DAY_MS));
    const days = (dayStart(to, 'to') - dayStart(from, 'from')) / DAY_MS + 1;
    if (days < 1) throw new BadRequestException('from must not be after to');
    if (days > MAX_DAYS) throw new BadRequestException(`A report covers at most ${MAX_DAYS} days`);
    const rows = await this.usage.find({
      from,
      to,
      userId: principal.role === 'admin' ? undefined : (principal.userId ?? 0),
      tokenId: query.token_id,
      model: query.model,
    });
    const [tokenNames, usernames] = await Promise.all([this.tokens.names(), this.users.names()]);
    const entries = rows.map((row): UsageEntry => ({
      day: row.day,
      user_id: row.user_id || null,
      username: usernames.get(row.user_id) ?? null,
      token_id: row.token_id || null,
      token_name: tokenNames.get(row.token_id) ?? null,
      model: row.model,
      requests: row.requests,
      prompt_tokens: row.prompt_tokens,
      completion_tokens: row.completion_tokens,
      total_tokens: row.total_tokens,
    }));
    return { from, to, totals: totalsOf(entries), entries };
  }
}

function totalsOf(entries: UsageCounts[]): UsageCounts {
  const totals: UsageCounts = { requests: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  for (const entry of entries) {
    totals.requests += entry.requests;
    totals.prompt_tokens += entry.prompt_tokens;
    totals.completion_tokens += entry.completion_tokens;
    totals.total_tokens += entry.total_tokens;
  }
  return totals;
}

/** `YYYY-MM-DD` of an instant, in UTC. */
function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** Midnight UTC of a `YYYY-MM-DD` day, in ms; a day that does not exist (`2026-02-30`) is the caller's error. */
function dayStart(day: string, field: string): number {
  const start = parseIsoDateTime(`${day}T00:00:00Z`);
  if (!start) throw new BadRequestException(`${field} is not a day of the calendar: ${day}`);
  return start.getTime();
}
