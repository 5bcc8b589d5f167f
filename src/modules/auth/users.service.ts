import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { definedOnly } from '../../common/objects';
import { AuditService } from '../audit/audit.service';
import { CreateUserDto, UpdateUserDto, UserResponse } from './dto/auth.dto';
import { PasswordHasher } from './password-hasher';
import { User } from './user.entity';
import { UserFields, UsersRepository } from './users.repository';

/** User management (admin only); the last enabled admin is protected by the repository. */
@Injectable()
export class UsersService {
  constructor(
    private readonly users: UsersRepository,
    private readonly audit: AuditService,
  ) {}

  async list(): Promise<UserResponse[]> {
    return (await this.users.list()).map(toResponse);
  }

  /** Every user's name by id (reports name them). */
  async names(): Promise<Map<number, string>> {
    return new Map((await this.users.list()).map((user) => [user.id, user.username]));
  }

  async create(dto: CreateUserDto): Promise<User> {
    await this.assertUsernameFree(dto.username);
    const user = await this.users.create({
      username: dto.username,
      password_hash: await PasswordHasher.hash(dto.password),
      role: dto.role,
      disabled: dto.disabled ?? false,
    });
    await this.audit.record({ action: 'user.create', target: `user:${user.id}`, detail: { username: user.username, role: user.role } });
    return user;
  }

  async update(id: number, dto: UpdateUserDto): Promise<void> {
    await this.getUser(id);
    if (dto.username !== undefined) await this.assertUsernameFree(dto.username, id);
    const fields: UserFields = definedOnly({ username: dto.username, role: dto.role, disabled: dto.disabled });
    if (dto.password !== undefined)
      Object.assign(fields, { password_hash: await PasswordHasher.hash(dto.password), password_changed_at: new Date() });
    if (Object.keys(fields).length === 0) return;
    await this.users.update(id, fields);
    // Which fields changed, and the new role and state; never the password.
    const changed = Object.keys(dto).filter((key) => dto[key as keyof UpdateUserDto] !== undefined);
    await this.audit.record({
      action: 'user.update',
      target: `user:${id}`,
      detail: { changed, ...definedOnly({ role: dto.role, disabled: dto.disabled }) },
    });
  }

  async delete(id: number): Promise<void> {
    const user = await this.getUser(id);
    await this.users.delete(id);
    await this.audit.record({ action: 'user.delete', target: `user:${id}`, detail: { username: user.username } });
  }

  private async getUser(id: number): Promise<User> {
    const user = await this.users.findById(id);
    if (!user) throw new NotFoundException(`User ${id} not found`);
    return user;
  }

  private async assertUsernameFree(username: string, exceptId?: number): Promise<void> {
    if (await this.users.usernameTaken(username, exceptId)) throw new ConflictException(`The username "${username}" is taken`);
  }
}

function toResponse(user: User): UserResponse {
  return { id: user.id, username: user.username, role: user.role, disabled: user.disabled, created_at: user.created_at };
}
