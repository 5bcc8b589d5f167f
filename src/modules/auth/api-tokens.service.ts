import { BadRequestException, ConflictException, ForbiddenException, Injectable, NotFoundException } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Principal } from '../../common/request-context';
import { AuditService } from '../audit/audit.service';
import { API_TOKEN_PREFIX, hashApiToken } from './auth.service';
import { definedOnly } from '../../common/objects';
import { ApiToken } from './api-token.entity';
import { ApiTokenResponse, CreatedTokenResponse, CreateTokenDto, UpdateTokenDto } from './dto/auth.dto';
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
      rpm_limit: dto.rpm_limit ?? null,
      tpm_limit: dto.tpm_limit ?? null,
    });
    await this.audit.record({
      action: 'token.create',
      target: `token:${stored.id}`,
      detail: { name: dto.name, role, rpm_limit: stored.rpm_limit, tpm_limit: stored.tpm_limit },
    });
    const { token_hash: _hash, user: _user, ...fields } = stored;
    return { ...fields, username: principal.username, token };
  }

  list(principal: Principal): Promise<ApiTokenResponse[]> {
    return this.tokens.list(principal.role === 'admin' ? undefined : (principal.userId ?? -1)).then((rows) => rows.map(toResponse));
  }

  /** Every token's name by id (reports name them; revoked ones are gone). */
  async names(): Promise<Map<number, string>> {
    return new Map((await this.tokens.list()).map((row) => [row.id, row.name]));
  }

  /** Renames a token or changes its gateway limits; its owner or an admin may. */
  async update(principal: Principal, id: number, dto: UpdateTokenDto): Promise<void> {
    const token = await this.ownedToken(principal, id);
    const fields = definedOnly({ name: dto.name, rpm_limit: dto.rpm_limit, tpm_limit: dto.tpm_limit });
    await this.tokens.update(id, fields);
    await this.audit.record({
      action: 'token.update',
      target: `token:${id}`,
      detail: { ...fields, previous: { name: token.name, rpm_limit: token.rpm_limit, tpm_limit: token.tpm_limit } },
    });
  }

  async revoke(principal: Principal, id: number): Promise<void> {
    const token = await this.ownedToken(principal, id);
    await this.tokens.delete(id);
    await this.audit.record({ action: 'token.revoke', target: `token:${id}`, detail: { name: token.name, owner_id: token.user_id } });
  }

  private async ownedToken(principal: Principal, id: number): Promise<ApiToken> {
    const token = await this.tokens.findById(id);
    // Someone else's token is as good as absent to a non-admin.
    if (!token || (principal.role !== 'admin' && token.user_id !== principal.userId)) throw new NotFoundException(`API token ${id} not found`);
    return token;
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
    rpm_limit: row.rpm_limit,
    tpm_limit: row.tpm_limit,
    last_used_at: row.last_used_at,
    created_at: row.created_at,
  };
}
