import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { CachedWrites } from '../../database/cached-writes';
import { CachedJson, ReadCache } from '../../database/read-cache.service';
import { Transactions } from '../../database/transactions.service';
import { Brand } from './entities/brand.entity';
import { SINGLE_ROW } from '../../database/save-options';

@Injectable()
export class BrandsRepository {
  private readonly writes: CachedWrites;

  constructor(
    @InjectRepository(Brand) private readonly brands: Repository<Brand>,
    private readonly cache: ReadCache,
    private readonly transactions: Transactions,
  ) {
    this.writes = new CachedWrites(cache, 'brands');
  }

  /** The list as JSON text, served from the read cache. */
  listJson(): Promise<CachedJson> {
    return this.cache.getJson('brands:list', ['brands'], () => this.brands.find({ order: { sort_order: 'ASC', created_at: 'DESC', id: 'DESC' } }));
  }

  /** Every brand's id and name, for matching names found elsewhere (detected accelerators). */
  names(): Promise<Pick<Brand, 'id' | 'name'>[]> {
    return this.cache.get('brands:names', ['brands'], () => this.brands.find({ select: { id: true, name: true }, order: { id: 'ASC' } }));
  }

  findById(id: number): Promise<Brand | null> {
    return this.brands.findOneBy({ id });
  }

  async exists(id: number): Promise<boolean> {
    return this.brands.existsBy({ id });
  }

  create(fields: Pick<Brand, 'name' | 'logo'>): Promise<Brand> {
    return this.writes.run(() => this.brands.save(this.brands.create(fields), SINGLE_ROW));
  }

  async update(id: number, fields: Partial<Pick<Brand, 'name' | 'logo'>>): Promise<void> {
    if (Object.keys(fields).length === 0) return;
    await this.writes.run(() => this.brands.update({ id }, fields));
  }

  /** Deletes the brand; the schema cascades to its accelerator cards and nulls servers' references. */
  async delete(id: number): Promise<void> {
    await this.writes.run(() => this.brands.delete({ id }), 'accelerator_cards', 'servers');
  }

  /** Ids among `ids` that name no brand. */
  async findMissing(ids: number[]): Promise<number[]> {
    const found = await this.brands.find({ select: { id: true }, where: { id: In(ids) } });
    const existing = new Set(found.map((brand) => brand.id));
    return ids.filter((id) => !existing.has(id));
  }

  /** Applies every new position in one transaction: all or nothing. */
  async reorder(orders: { id: number; sort_order: number }[]): Promise<void> {
    await this.writes.run(() =>
      this.transactions.run(async (manager) => {
        for (const { id, sort_order } of orders) await manager.update(Brand, { id }, { sort_order });
      }),
    );
  }
}
