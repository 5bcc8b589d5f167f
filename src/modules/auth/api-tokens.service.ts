import { BadRequestException, ConflictException, ForbiddenException, Injectable, NotFoundException } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Principal } from '../../common/request-context';
import { AuditService } from '../audit/audit.service';
import { API_TOKEN_PREFIX, hashApiToken } from './auth.service';
import { ApiTokenResponse, CreatedTokenResponse, CreateTokenDto } from './dto/auth.dto';
import { roleAllows, roleWithArticle } from './roles';
import { ApiTokenRow, TokensRepository } from './tokens.repository';

/** API tokens: each user manages their own; admins see and revoke everyone's. */
@Injectable()
export class ApiTokensService {
  constructor(
    private readonly tokens: TokensRepository,
    private readonly audit: AuditService,
  ) {}

  async create(principal: Principal, dto: CreateTokenDto): Promise<CreatedTokenResponse> {
    if (principal.userId === null) throw new ConflictException('API tokens belong to users: enable authentication (AUTH_ENABLED=true) first');
    const role = dto.role ?? principal.role;
    if (!roleAllows(principal.role, role))
      throw new ForbiddenException(`A token cannot outrank its owner: you are ${roleWithArticle(principal.role)}`);
    if (dto.expires_at && dto.expires_at.getTime() <= Date.now()) throw new BadRequestException('expires_at must be in the future');
    const token = `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const stored = await this.tokens.create({
      name: dto.name,
      token_hash: hashApiToken(token),
      role,
      user_id: principal.userId,
      expires_at: dto.expires_at ?? null,
    });
    await this.audit.record({ action: 'token.create', target: `token:${stored.id}`, detail: { name: dto.name, role } });
    const { token_hash: _hash, user: _user, ...fields } = stored;
    return { ...fields, username: principal.username, token };
  }

  list(principal: Principal): Promise<ApiTokenResponse[]> {
    return this.tokens.list(principal.role === 'admin' ? undefined : (principal.userId ?? -1)).then((rows) => rows.map(toResponse));
  }

  async revoke(principal: Principal, id: number): Promise<void> {
    const token = await this.tokens.findById(id);
    // Someone else's token is as good as absent to a non-admin.
    if (!token || (principal.role !== 'admin' && token.user_id !== principal.userId)) throw new NotFoundException(`API token ${id} not found`);
    await this.tokens.delete(id);
    await this.audit.record({ action: 'token.revoke', target: `token:${id}`, detail: { name: token.name, owner_id: token.user_id } });
  }
}

function toResponse(row: ApiTokenRow): ApiTokenResponse {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    user_id: row.user_id,
    username: row.username,
    expires_at: row.expires_at,
    last_used_at: row.last_used_at,
    created_at: row.created_at,
  };
}
