import { BadRequestException, BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { parseIsoDateTime } from '../../common/decorators/fields';
import { Principal } from '../../common/request-context';
import { ApiTokensService } from '../auth/api-tokens.service';
import { UsersService } from '../auth/users.service';
import { UsageCounts, UsageEntry, UsageQuery, UsageReport } from './dto/usage.dto';
import { GatewayUsageRepository } from './gateway-usage.repository';
import { TokenUsage } from './usage-meter';

const DAY_MS = 86_400_000;
/** The default report: the last 30 days. */
const DEFAULT_DAYS = 30;
/** The longest report: a year and a day, so that any year fits. */
const MAX_DAYS = 367;

/** Counts each gateway call per day, caller, token and model, and reports it. */
@Injectable()
export class GatewayUsageService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(GatewayUsageService.name);
  /** Writes not yet done: a report waits for them, so a caller sees the calls it has had answered. */
  private readonly writing = new Set<Promise<void>>();

  constructor(
    private readonly usage: GatewayUsageRepository,
    private readonly tokens: ApiTokensService,
    private readonly users: UsersService,
  ) {}

  /**
   * Adds a call (and its tokens, when the model server reported them), in the background: the answer has gone, and a
   * failure to write costs a log line.
   */
  record(principal: Principal, model: string, tokens: TokenUsage | undefined, at = new Date()): void {
    const key = { day: dayOf(at), user_id: principal.userId ?? 0, token_id: principal.tokenId ?? 0, model };
    const write = this.usage
      .add(key, tokens)
      .catch((error: Error) => this.logger.warn(`Could not record gateway usage: ${error.message}`))
      .finally(() => this.writing.delete(write));
    this.writing.add(write);
  }

  /** Before the database closes, the writes in flight finish. */
  beforeApplicationShutdown(): Promise<void> {
    return this.writesDone();
  }

  /** Usage in the query's days: everyone's for an admin, the caller's own for anyone else. */
  async report(principal: Principal, query: UsageQuery): Promise<UsageReport> {
    await this.writesDone();
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

  private async writesDone(): Promise<void> {
    await Promise.all(this.writing);
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
