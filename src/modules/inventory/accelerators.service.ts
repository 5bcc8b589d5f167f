import { Injectable, NotFoundException } from '@nestjs/common';
import { definedOnly } from '../../common/objects';
import { AcceleratorFields, AcceleratorsRepository } from './accelerators.repository';
import { BrandsService } from './brands.service';
import { CreateAcceleratorDto, UpdateAcceleratorDto } from './dto/accelerator.dto';
import { AcceleratorCard } from './entities/accelerator-card.entity';
import { AuditService } from '../audit/audit.service';

@Injectable()
export class AcceleratorsService {
  constructor(
    private readonly accelerators: AcceleratorsRepository,
    private readonly brands: BrandsService,
    private readonly audit: AuditService,
  ) {}

  names(): Promise<Pick<AcceleratorCard, 'id' | 'brand_id' | 'name' | 'model'>[]> {
    return this.accelerators.names();
  }

  exists(id: number): Promise<boolean> {
    return this.accelerators.exists(id);
  }

  async listByBrand(brandId: number): Promise<AcceleratorCard[]> {
    await this.brands.requireBrand(brandId);
    return this.accelerators.listByBrand(brandId);
  }

  async create(brandId: number, dto: CreateAcceleratorDto): Promise<AcceleratorCard> {
    await this.brands.requireBrand(brandId);
    return this.accelerators.create(brandId, specification(dto) as AcceleratorFields);
  }

  async update(id: number, dto: UpdateAcceleratorDto): Promise<void> {
    await this.requireAccelerator(id);
    await this.accelerators.update(id, definedOnly(specification(dto)));
  }

  async delete(id: number): Promise<void> {
    const card = await this.requireAccelerator(id);
    await this.accelerators.delete(id);
    await this.audit.record({ action: 'accelerator.delete', target: `accelerator:${id}`, detail: { name: card.name } });
  }

  private async requireAccelerator(id: number): Promise<AcceleratorCard> {
    const card = await this.accelerators.findById(id);
    if (!card) throw new NotFoundException(`Accelerator card ${id} not found`);
    return card;
  }
}

/** The writable fields of a request; optional text left empty is stored as given. */
function specification(dto: UpdateAcceleratorDto): Partial<AcceleratorFields> {
  return {
    name: dto.name,
    model: dto.model,
    memory: dto.memory,
    fp8_perf: dto.fp8_perf,
    int8_perf: dto.int8_perf,
    bf16_perf: dto.bf16_perf,
    fp16_perf: dto.fp16_perf,
    fp32_perf: dto.fp32_perf,
    interconnect_bandwidth: dto.interconnect_bandwidth,
  };
}
