import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { definedOnly } from '../../common/objects';
import { ReferenceChecks, ReferrerLookup } from '../../database/references';
import { CreateModelDto, UpdateModelDto } from './dto/model.dto';
import { Model } from './entities/model.entity';
import { ModelsRepository } from './models.repository';
import { UploadsService } from './uploads.service';
import { nullIfLeftOutOfForm, UpdateSource } from './update-source';
import { AuditService } from '../audit/audit.service';
import { CachedJson } from '../../database/read-cache.service';

@Injectable()
export class ModelsService {
  private readonly references = new ReferenceChecks();

  constructor(
    private readonly models: ModelsRepository,
    private readonly uploads: UploadsService,
    private readonly audit: AuditService,
  ) {}

  listJson(): Promise<CachedJson> {
    return this.models.listJson();
  }

  exists(id: number): Promise<boolean> {
    return this.models.exists(id);
  }

  /** For the features whose rows name a model: such a model cannot be deleted. */
  addReferenceCheck(kind: string, lookup: ReferrerLookup): void {
    this.references.register(kind, lookup);
  }

  async create(dto: CreateModelDto, logoFile?: Express.Multer.File): Promise<Model> {
    const logo = logoFile ? (await this.uploads.storeImage(logoFile)).url : (dto.logo ?? null);
    return this.models.create({ name: dto.name, logo, parameters: dto.parameters ?? null });
  }

  /** `name` (never empty) left out is kept either way; see nullIfLeftOutOfForm for the others. An uploaded `logo_file` sets `logo`. */
  async update(id: number, dto: UpdateModelDto, source: UpdateSource): Promise<void> {
    await this.requireModel(id);
    const logo = source.logoFile ? (await this.uploads.storeImage(source.logoFile)).url : nullIfLeftOutOfForm(dto.logo, source);
    const parameters = nullIfLeftOutOfForm(dto.parameters, source);
    await this.models.update(id, definedOnly({ name: dto.name, logo, parameters }));
  }

  async delete(id: number): Promise<void> {
    const model = await this.requireModel(id);
    // Services are the only feature that names models.
    const users = await this.references.referrersOf(id);
    if (users.length > 0) {
      const names = users.map((service) => `${service.name} (id ${service.id})`).join(', ');
      throw new ConflictException(`Model ${id} is used by services: ${names}`);
    }
    await this.models.delete(id);
    await this.audit.record({ action: 'model.delete', target: `model:${id}`, detail: { name: model.name } });
  }

  private async requireModel(id: number): Promise<Model> {
    const model = await this.models.findById(id);
    if (!model) throw new NotFoundException(`Model ${id} not found`);
    return model;
  }
}
