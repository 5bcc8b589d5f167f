import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { CachedWrites } from '../../database/cached-writes';
import { CachedJson, ReadCache } from '../../database/read-cache.service';
import { Model } from './entities/model.entity';
import { SINGLE_ROW } from '../../database/save-options';

export type ModelFields = Pick<Model, 'name' | 'logo' | 'parameters'>;

@Injectable()
export class ModelsRepository {
  private readonly writes: CachedWrites;

  constructor(
    @InjectRepository(Model) private readonly models: Repository<Model>,
    private readonly cache: ReadCache,
  ) {
    this.writes = new CachedWrites(cache, 'models');
  }

  /** The list as JSON text, served from the read cache. */
  listJson(): Promise<CachedJson> {
    return this.cache.getJson('models:list', ['models'], () => this.models.find({ order: { created_at: 'DESC', id: 'DESC' } }));
  }

  findById(id: number): Promise<Model | null> {
    return this.models.findOneBy({ id });
  }

  exists(id: number): Promise<boolean> {
    return this.models.existsBy({ id });
  }

  create(fields: ModelFields): Promise<Model> {
    return this.writes.run(() => this.models.save(this.models.create(fields), SINGLE_ROW));
  }

  async update(id: number, fields: Partial<ModelFields>): Promise<void> {
    if (Object.keys(fields).length === 0) return;
    await this.writes.run(() => this.models.update({ id }, fields));
  }

  async delete(id: number): Promise<void> {
    await this.writes.run(() => this.models.delete({ id }));
  }
}
