import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ReadCache } from '../../database/read-cache.service';
import { AcceleratorCard } from './entities/accelerator-card.entity';
import { SINGLE_ROW } from '../../database/save-options';

export type AcceleratorFields = Omit<AcceleratorCard, 'id' | 'brand_id' | 'brand' | 'created_at'>;

@Injectable()
export class AcceleratorsRepository {
  constructor(
    @InjectRepository(AcceleratorCard) private readonly cards: Repository<AcceleratorCard>,
    private readonly cache: ReadCache,
  ) {}

  listByBrand(brandId: number): Promise<AcceleratorCard[]> {
    return this.cache.get(`accelerators:brand:${brandId}`, ['accelerator_cards'], () =>
      this.cards.find({ where: { brand_id: brandId }, order: { created_at: 'DESC', id: 'DESC' } }),
    );
  }

  findById(id: number): Promise<AcceleratorCard | null> {
    return this.cards.findOneBy({ id });
  }

  async create(brandId: number, fields: AcceleratorFields): Promise<AcceleratorCard> {
    const card = await this.cards.save(this.cards.create({ ...fields, brand_id: brandId }), SINGLE_ROW);
    this.cache.invalidate('accelerator_cards');
    return card;
  }

  async update(id: number, fields: Partial<AcceleratorFields>): Promise<void> {
    if (Object.keys(fields).length === 0) return;
    await this.cards.update({ id }, fields);
    this.cache.invalidate('accelerator_cards');
  }

  /** Servers that referenced the card get `model_id` null through the schema. */
  async delete(id: number): Promise<void> {
    await this.cards.delete({ id });
    this.cache.invalidate('accelerator_cards', 'servers');
  }
}
