import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../../common/decorators/api-errors.decorator';
import type { Principal } from '../../common/request-context';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import { UsageQuery, UsageReport } from './dto/usage.dto';
import { GatewayUsageService } from './gateway-usage.service';

@ApiTags('gateway')
@Controller('usage')
export class UsageController {
  constructor(private readonly usage: GatewayUsageService) {}

  /** Gateway usage per day, caller, API token and model, with totals: an admin sees everyone's, anyone else their own. */
  @Get()
  @ApiOkResponse({ type: UsageReport })
  @ApiErrors(400)
  getUsage(@CurrentPrincipal() principal: Principal, @Query() query: UsageQuery): Promise<UsageReport> {
    return this.usage.report(principal, query);
  }
}
