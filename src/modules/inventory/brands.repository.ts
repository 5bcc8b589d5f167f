import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { Brand } from './entities/brand.entity';

@Injectable()
export class BrandsRepository {
  constructor(@InjectRepository(Brand) private readonly brands: Repository<Brand>) {}

  list(): Promise<Brand[]> {
    return this.brands.find({ order: { sort_order: 'ASC', created_at: 'DESC', id: 'DESC' } });
  }

  findById(id: number): Promise<Brand | null> {
    return this.brands.findOneBy({ id });
  }

  async exists(id: number): Promise<boolean> {
    return this.brands.existsBy({ id });
  }

  async create(fields: Pick<Brand, 'name' | 'logo'>): Promise<Brand> {
    return this.brands.save(this.brands.create(fields));
  }

  async update(id: number, fields: Partial<Pick<Brand, 'name' | 'logo'>>): Promise<void> {
    if (Object.keys(fields).length > 0) await this.brands.update({ id }, fields);
  }

  /** Deletes the brand; the schema cascades to its accelerator cards and nulls servers' references. */
  async delete(id: number): Promise<void> {
    await this.brands.delete({ id });
  }

  /** Ids among `ids` that name no brand. */
  async findMissing(ids: number[]): Promise<number[]> {
    const found = await this.brands.find({ select: { id: true }, where: { id: In(ids) } });
    const existing = new Set(found.map((brand) => brand.id));
    return ids.filter((id) => !existing.has(id));
  }

  /** Applies every new position in one transaction: all or nothing. */
  async reorder(orders: { id: number; sort_order: number }[]): Promise<void> {
    await this.brands.manager.transaction(async (manager) => {
      for (const { id, sort_order } of orders) await manager.update(Brand, { id }, { sort_order });
    });
  }
}
