import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { CachedWrites } from '../../database/cached-writes';
import { ReadCache } from '../../database/read-cache.service';
import { AcceleratorCard } from './entities/accelerator-card.entity';
import { SINGLE_ROW } from '../../database/save-options';

export type AcceleratorFields = Omit<AcceleratorCard, 'id' | 'brand_id' | 'brand' | 'created_at'>;

@Injectable()
export class AcceleratorsRepository {
  private readonly writes: CachedWrites;

  constructor(
    @InjectRepository(AcceleratorCard) private readonly cards: Repository<AcceleratorCard>,
    private readonly cache: ReadCache,
  ) {
    this.writes = new CachedWrites(cache, 'accelerator_cards');
  }

  listByBrand(brandId: number): Promise<AcceleratorCard[]> {
    return this.cache.get(`accelerators:brand:${brandId}`, ['accelerator_cards'], () =>
      this.cards.find({ where: { brand_id: brandId }, order: { created_at: 'DESC', id: 'DESC' } }),
    );
  }

  /** Every card's id, brand, name and model, for matching names found elsewhere (detected accelerators). */
  names(): Promise<Pick<AcceleratorCard, 'id' | 'brand_id' | 'name' | 'model'>[]> {
    return this.cache.get('accelerators:names', ['accelerator_cards'], () =>
      this.cards.find({ select: { id: true, brand_id: true, name: true, model: true }, order: { id: 'ASC' } }),
    );
  }

  findById(id: number): Promise<AcceleratorCard | null> {
    return this.cards.findOneBy({ id });
  }

  exists(id: number): Promise<boolean> {
    return this.cards.existsBy({ id });
  }

  create(brandId: number, fields: AcceleratorFields): Promise<AcceleratorCard> {
    return this.writes.run(() => this.cards.save(this.cards.create({ ...fields, brand_id: brandId }), SINGLE_ROW));
  }

  async update(id: number, fields: Partial<AcceleratorFields>): Promise<void> {
    if (Object.keys(fields).length === 0) return;
    await this.writes.run(() => this.cards.update({ id }, fields));
  }

  /** Servers that referenced the card get `model_id` null through the schema. */
  async delete(id: number): Promise<void> {
    await this.writes.run(() => this.cards.delete({ id }), 'servers');
  }
}
