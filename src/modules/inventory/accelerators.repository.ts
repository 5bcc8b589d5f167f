import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AcceleratorCard } from './entities/accelerator-card.entity';

export type AcceleratorFields = Omit<AcceleratorCard, 'id' | 'brand_id' | 'brand' | 'created_at'>;

@Injectable()
export class AcceleratorsRepository {
  constructor(@InjectRepository(AcceleratorCard) private readonly cards: Repository<AcceleratorCard>) {}

  listByBrand(brandId: number): Promise<AcceleratorCard[]> {
    return this.cards.find({ where: { brand_id: brandId }, order: { created_at: 'DESC', id: 'DESC' } });
  }

  findById(id: number): Promise<AcceleratorCard | null> {
    return this.cards.findOneBy({ id });
  }

  create(brandId: number, fields: AcceleratorFields): Promise<AcceleratorCard> {
    return this.cards.save(this.cards.create({ ...fields, brand_id: brandId }));
  }

  async update(id: number, fields: Partial<AcceleratorFields>): Promise<void> {
    if (Object.keys(fields).length > 0) await this.cards.update({ id }, fields);
  }

  /** Servers that referenced the card get `model_id` null through the schema. */
  async delete(id: number): Promise<void> {
    await this.cards.delete({ id });
  }
}
