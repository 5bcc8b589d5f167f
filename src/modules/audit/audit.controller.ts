import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../../common/decorators/api-errors.decorator';
import { RequiresRole } from '../auth/access.decorators';
import { AuditEventResponse, AuditPageResponse, AuditQuery } from './dto/audit.dto';
import { AuditService } from './audit.service';

@ApiTags('audit')
@Controller('audit')
@RequiresRole('admin')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  /** The audit log, newest first, filtered by user, action and time range, one page at a time. */
  @Get()
  @ApiOkResponse({ type: AuditPageResponse })
  @ApiErrors(400)
  async listAuditEvents(@Query() query: AuditQuery): Promise<AuditPageResponse> {
    const { events, total } = await this.audit.page(
      { username: query.user, action: query.action, from: query.from, to: query.to },
      (query.page - 1) * query.per_page,
      query.per_page,
    );
    return { events: events.map(toResponse), total, page: query.page, per_page: query.per_page };
  }
}

function toResponse(event: {
  id: number;
  at: Date;
  username: string | null;
  ip: string | null;
  action: string;
  target: string | null;
  detail: string | null;
}): AuditEventResponse {
  return {
    id: event.id,
    at: event.at,
    user: event.username,
    ip: event.ip,
    action: event.action,
    target: event.target,
    detail: event.detail ? (JSON.parse(event.detail) as Record<string, unknown>) : null,
  };
}
