import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { definedOnly } from '../../common/objects';
import { BrandsRepository } from './brands.repository';
import { CreateBrandDto, ReorderBrandsDto, UpdateBrandDto } from './dto/brand.dto';
import { Brand } from './entities/brand.entity';
import { UploadsService } from './uploads.service';
import { nullIfLeftOutOfForm, UpdateSource } from './update-source';
import { AuditService } from '../audit/audit.service';
import { CachedJson } from '../../database/read-cache.service';

@Injectable()
export class BrandsService {
  constructor(
    private readonly brands: BrandsRepository,
    private readonly uploads: UploadsService,
    private readonly audit: AuditService,
  ) {}

  listJson(): Promise<CachedJson> {
    return this.brands.listJson();
  }

  names(): Promise<Pick<Brand, 'id' | 'name'>[]> {
    return this.brands.names();
  }

  exists(id: number): Promise<boolean> {
    return this.brands.exists(id);
  }

  async create(dto: CreateBrandDto, logoFile?: Express.Multer.File): Promise<Brand> {
    const logo = logoFile ? (await this.uploads.storeImage(logoFile)).url : (dto.logo ?? null);
    return this.brands.create({ name: dto.name, logo });
  }

  /** `name` (never empty) left out is kept either way; see nullIfLeftOutOfForm for `logo`. An uploaded `logo_file` sets `logo`. */
  async update(id: number, dto: UpdateBrandDto, source: UpdateSource): Promise<void> {
    await this.requireBrand(id);
    const logo = source.logoFile ? (await this.uploads.storeImage(source.logoFile)).url : nullIfLeftOutOfForm(dto.logo, source);
    await this.brands.update(id, definedOnly({ name: dto.name, logo }));
  }

  async delete(id: number): Promise<void> {
    const brand = await this.requireBrand(id);
    await this.brands.delete(id);
    await this.audit.record({ action: 'brand.delete', target: `brand:${id}`, detail: { name: brand.name } });
  }

  async reorder({ orders }: ReorderBrandsDto): Promise<void> {
    const ids = orders.map((order) => order.id);
    const duplicates = ids.filter((id, index) => ids.indexOf(id) !== index);
    if (duplicates.length > 0) throw new BadRequestException(`Brand ids appear more than once: ${[...new Set(duplicates)].join(', ')}`);
    const missing = await this.brands.findMissing(ids);
    if (missing.length > 0) throw new NotFoundException(`Brands not found: ${missing.join(', ')}`);
    await this.brands.reorder(orders);
  }

  async requireBrand(id: number): Promise<Brand> {
    const brand = await this.brands.findById(id);
    if (!brand) throw new NotFoundException(`Brand ${id} not found`);
    return brand;
  }
}
