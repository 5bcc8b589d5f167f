import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Res, UseGuards } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrors } from '../../common/decorators/api-errors.decorator';
import { ErrorResponse, MessageResponse } from '../../common/dto/responses.dto';
import { ParseIdPipe } from '../../common/pipes/parse-id.pipe';
import type { Principal } from '../../common/request-context';
import { Public, RequiresRole } from './access.decorators';
import { ApiTokensService } from './api-tokens.service';
import { AuthService, Session, SESSION_COOKIE } from './auth.service';
import { CurrentPrincipal } from './current-principal.decorator';
import {
  ApiTokenResponse,
  ChangePasswordDto,
  CreatedTokenResponse,
  CreateTokenDto,
  LoginDto,
  MeResponse,
  SessionResponse,
  UpdateTokenDto,
} from './dto/auth.dto';
import { LoginThrottlerGuard } from './login-throttler.guard';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly tokens: ApiTokensService,
  ) {}

  /** Signs in: the token comes back in the body and as an HttpOnly, SameSite=Strict cookie. */
  @Post('login')
  @Public()
  @UseGuards(LoginThrottlerGuard)
  @HttpCode(200)
  @ApiOkResponse({ type: SessionResponse })
  @ApiErrors(400, 401)
  @ApiResponse({
    status: 429,
    description:
      'Too many attempts from this address, too many failures for this username from this address, or the username ' +
      'has reached its ceiling of failures from all addresses; Retry-After and X-RateLimit-Limit/-Remaining/-Reset describe the limit that refused',
    type: ErrorResponse,
  })
  async login(@Body() dto: LoginDto, @Res({ passthrough: true }) response: Response): Promise<SessionResponse> {
    return this.startSession(response, await this.auth.login(dto.username, dto.password));
  }

  /** Ends this session: its token stops working and the cookie is cleared. */
  @Post('logout')
  @RequiresRole('viewer')
  @HttpCode(200)
  @ApiOkResponse({ type: MessageResponse })
  async logout(@CurrentPrincipal() principal: Principal, @Res({ passthrough: true }) response: Response): Promise<MessageResponse> {
    await this.auth.logout(principal);
    response.clearCookie(SESSION_COOKIE, { path: '/' });
    return { message: 'Signed out' };
  }

  /** Who you are signed in as: user, role and, with an API token, its id. */
  @Get('me')
  @ApiOkResponse({ type: MeResponse })
  me(@CurrentPrincipal() principal: Principal): MeResponse {
    return { id: principal.userId, username: principal.username, role: principal.role, auth_enabled: this.auth.enabled, token_id: principal.tokenId };
  }

  /** Changes your password; your other sessions end and a fresh session is returned. */
  @Put('password')
  @RequiresRole('viewer')
  @ApiOkResponse({ type: SessionResponse })
  @ApiErrors(400, 403)
  async changePassword(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: ChangePasswordDto,
    @Res({ passthrough: true }) response: Response,
  ): Promise<SessionResponse> {
    return this.startSession(response, await this.auth.changePassword(principal, dto.current_password, dto.new_password));
  }

  /** Your API tokens (an admin sees everyone's); never the tokens themselves. */
  @Get('tokens')
  @ApiOkResponse({ type: [ApiTokenResponse] })
  listTokens(@CurrentPrincipal() principal: Principal): Promise<ApiTokenResponse[]> {
    return this.tokens.list(principal);
  }

  /** Creates an API token for scripts; the token is in this answer only. */
  @Post('tokens')
  @RequiresRole('viewer')
  @ApiCreatedResponse({ type: CreatedTokenResponse })
  @ApiErrors(400, 403, 409)
  createToken(@CurrentPrincipal() principal: Principal, @Body() dto: CreateTokenDto): Promise<CreatedTokenResponse> {
    return this.tokens.create(principal, dto);
  }

  /** Renames one of your API tokens (an admin: anyone's) or changes its gateway limits, effective at once. */
  @Patch('tokens/:id')
  @RequiresRole('viewer')
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404)
  async updateToken(
    @CurrentPrincipal() principal: Principal,
    @Param('id', ParseIdPipe) id: number,
    @Body() dto: UpdateTokenDto,
  ): Promise<MessageResponse> {
    await this.tokens.update(principal, id, dto);
    return { message: 'API token updated' };
  }

  /** Revokes one of your API tokens (an admin: anyone's); it stops working at once. */
  @Delete('tokens/:id')
  @RequiresRole('viewer')
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404)
  async revokeToken(@CurrentPrincipal() principal: Principal, @Param('id', ParseIdPipe) id: number): Promise<MessageResponse> {
    await this.tokens.revoke(principal, id);
    return { message: 'API token revoked' };
  }

  private startSession(response: Response, session: Session): SessionResponse {
    response.cookie(SESSION_COOKIE, session.access_token, {
      httpOnly: true,
      sameSite: 'strict',
      secure: response.req.secure,
      path: '/',
      maxAge: session.expires_in * 1000,
    });
    return session;
  }
}
