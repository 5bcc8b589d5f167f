import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ReadCache } from '../../database/read-cache.service';
import { Service } from '../services/service.entity';
import { Model } from './entities/model.entity';
import { SINGLE_ROW } from '../../database/save-options';

export type ModelFields = Pick<Model, 'name' | 'logo' | 'parameters'>;

@Injectable()
export class ModelsRepository {
  constructor(
    @InjectRepository(Model) private readonly models: Repository<Model>,
    @InjectRepository(Service) private readonly services: Repository<Service>,
    private readonly cache: ReadCache,
  ) {}

  /** The list as JSON text, served from the read cache. */
  listJson(): Promise<string> {
    return this.cache.getJson('models:list', ['models'], () => this.models.find({ order: { created_at: 'DESC', id: 'DESC' } }));
  }

  findById(id: number): Promise<Model | null> {
    return this.models.findOneBy({ id });
  }

  async create(fields: ModelFields): Promise<Model> {
    const model = await this.models.save(this.models.create(fields), SINGLE_ROW);
    this.cache.invalidate('models');
    return model;
  }

  async update(id: number, fields: Partial<ModelFields>): Promise<void> {
    if (Object.keys(fields).length === 0) return;
    await this.models.update({ id }, fields);
    this.cache.invalidate('models');
  }

  async delete(id: number): Promise<void> {
    await this.models.delete({ id });
    this.cache.invalidate('models');
  }

  /** Services that deploy the model (they block its deletion). */
  servicesUsing(id: number): Promise<Pick<Service, 'id' | 'name'>[]> {
    return this.services.find({ select: { id: true, name: true }, where: { model_id: id }, order: { id: 'ASC' } });
  }
}
