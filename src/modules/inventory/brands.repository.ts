import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { ReadCache } from '../../database/read-cache.service';
import { Transactions } from '../../database/transactions.service';
import { Brand } from './entities/brand.entity';
import { SINGLE_ROW } from '../../database/save-options';

@Injectable()
export class BrandsRepository {
  constructor(
    @InjectRepository(Brand) private readonly brands: Repository<Brand>,
    private readonly cache: ReadCache,
    private readonly transactions: Transactions,
  ) {}

  /** The list as JSON text, served from the read cache. */
  listJson(): Promise<string> {
    return this.cache.getJson('brands:list', ['brands'], () =>
      this.brands.find({ order: { sort_order: 'ASC', created_at: 'DESC', id: 'DESC' } }),
    );
  }

  findById(id: number): Promise<Brand | null> {
    return this.brands.findOneBy({ id });
  }

  async exists(id: number): Promise<boolean> {
    return this.brands.existsBy({ id });
  }

  async create(fields: Pick<Brand, 'name' | 'logo'>): Promise<Brand> {
    const brand = await this.brands.save(this.brands.create(fields), SINGLE_ROW);
    this.cache.invalidate('brands');
    return brand;
  }

  async update(id: number, fields: Partial<Pick<Brand, 'name' | 'logo'>>): Promise<void> {
    if (Object.keys(fields).length === 0) return;
    await this.brands.update({ id }, fields);
    this.cache.invalidate('brands');
  }

  /** Deletes the brand; the schema cascades to its accelerator cards and nulls servers' references. */
  async delete(id: number): Promise<void> {
    await this.brands.delete({ id });
    this.cache.invalidate('brands', 'accelerator_cards', 'servers');
  }

  /** Ids among `ids` that name no brand. */
  async findMissing(ids: number[]): Promise<number[]> {
    const found = await this.brands.find({ select: { id: true }, where: { id: In(ids) } });
    const existing = new Set(found.map((brand) => brand.id));
    return ids.filter((id) => !existing.has(id));
  }

  /** Applies every new position in one transaction: all or nothing. */
  async reorder(orders: { id: number; sort_order: number }[]): Promise<void> {
    await this.transactions.run(async (manager) => {
      for (const { id, sort_order } of orders) await manager.update(Brand, { id }, { sort_order });
    });
    this.cache.invalidate('brands');
  }
}
