import { ConflictException, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, QueryFailedError, Repository } from 'typeorm';
import { isConstraintViolation } from '../../database/constraint-violation';
import { CachedWrites } from '../../database/cached-writes';
import { ReadCache } from '../../database/read-cache.service';
import { SINGLE_ROW } from '../../database/save-options';
import { Transactions } from '../../database/transactions.service';
import { User } from './user.entity';

export type UserFields = Partial<Pick<User, 'username' | 'password_hash' | 'role' | 'disabled' | 'password_changed_at'>>;

@Injectable()
export class UsersRepository {
  private readonly writes: CachedWrites;

  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly cache: ReadCache,
    private readonly transactions: Transactions,
  ) {
    this.writes = new CachedWrites(cache, 'users');
  }

  list(): Promise<User[]> {
    return this.users.find({ order: { id: 'ASC' } });
  }

  /** Read on every authenticated request, so cached (writes here clear it; other instances: the cache TTL). */
  findById(id: number): Promise<User | null> {
    return this.cache.get(`users:${id}`, ['users'], () => this.users.findOneBy({ id }));
  }

  /** `findById` read from the database, for a caller that knows the cached row is older than the stored one. */
  findFreshById(id: number): Promise<User | null> {
    return this.cache.refresh(`users:${id}`, ['users'], () => this.users.findOneBy({ id }));
  }

  /** Case-insensitive, as people type their names. */
  findByUsername(username: string): Promise<User | null> {
    return this.users.createQueryBuilder('user').where('LOWER(user.username) = LOWER(:username)', { username }).getOne();
  }

  count(): Promise<number> {
    return this.users.count();
  }

  create(fields: UserFields): Promise<User> {
    return this.writes.run(() => this.users.save(this.users.create(fields), SINGLE_ROW).catch(usernameConflict(fields)));
  }

  async update(id: number, fields: UserFields): Promise<void> {
    await this.guardLastAdmin(id, fields, (manager) => manager.update(User, { id }, fields)).catch(usernameConflict(fields));
  }

  async delete(id: number): Promise<void> {
    await this.guardLastAdmin(id, null, (manager) => manager.delete(User, { id }));
  }

  /**
   * Applies a change to a user unless it would leave no enabled admin (`fields` null: a deletion).
   * On PostgreSQL the enabled admins are locked first, so two concurrent demotions cannot both pass.
   */
  private async guardLastAdmin(id: number, fields: UserFields | null, change: (manager: EntityManager) => Promise<unknown>): Promise<void> {
    // Deleting a user deletes their API tokens through the schema: cached token lookups must go with them.
    await this.writes.run(
      () =>
        this.transactions.run(async (manager) => {
          const removesAdmin = fields === null || (fields.role !== undefined && fields.role !== 'admin') || fields.disabled === true;
          if (removesAdmin) {
            const lock = manager.connection.options.type === 'postgres' ? ({ mode: 'pessimistic_write' } as const) : undefined;
            const admins = await manager.find(User, { where: { role: 'admin', disabled: false }, select: { id: true }, lock });
            if (admins.some((admin) => admin.id === id) && !admins.some((admin) => admin.id !== id)) {
              throw new ConflictException('The last admin cannot be deleted, demoted or disabled: make another user admin first');
            }
          }
          await change(manager);
        }),
      'api_tokens',
    );
  }

  /** A quick check for a clear message; the unique index on lower(username) settles races. */
  usernameTaken(username: string, exceptId?: number): Promise<boolean> {
    return this.users
      .createQueryBuilder('user')
      .where('LOWER(user.username) = LOWER(:username)', { username })
      .andWhere(exceptId === undefined ? '1 = 1' : 'user.id != :exceptId', { exceptId })
      .getExists();
  }
}

/** The unique index on lower(username) refused a name another request took in the meantime. */
function usernameConflict(fields: UserFields): (error: unknown) => never {
  return (error) => {
    if (fields.username !== undefined && error instanceof QueryFailedError && isConstraintViolation(error as QueryFailedError<Error>)) {
      throw new ConflictException(`The username "${fields.username}" is taken`);
    }
    throw error;
  };
}
