import { Module } from '@nestjs/common';
import { MulterModule } from '@nestjs/platform-express';
import { TypeOrmModule } from '@nestjs/typeorm';
import { memoryStorage } from 'multer';
import { storageConfig, StorageConfig } from '../../config/configuration';
import { AcceleratorsController } from './accelerators.controller';
import { AcceleratorsRepository } from './accelerators.repository';
import { AcceleratorsService } from './accelerators.service';
import { BrandsController } from './brands.controller';
import { BrandsRepository } from './brands.repository';
import { BrandsService } from './brands.service';
import { AcceleratorCard } from './entities/accelerator-card.entity';
import { Brand } from './entities/brand.entity';
import { Model } from './entities/model.entity';
import { ModelsController } from './models.controller';
import { ModelsRepository } from './models.repository';
import { ModelsService } from './models.service';
import { UploadsController } from './uploads.controller';
import { UploadsService } from './uploads.service';

@Module({
  imports: [
    TypeOrmModule.forFeature([Brand, AcceleratorCard, Model]),
    // Images are small (UPLOAD_MAX_BYTES) and must be checked before they touch the disk.
    MulterModule.registerAsync({
      inject: [storageConfig.KEY],
      useFactory: (storage: StorageConfig) => ({
        storage: memoryStorage(),
        limits: { fileSize: storage.uploadMaxBytes, files: 1, fields: 50, fieldSize: 64 * 1024 },
      }),
    }),
  ],
  controllers: [BrandsController, AcceleratorsController, ModelsController, UploadsController],
  providers: [BrandsRepository, BrandsService, AcceleratorsRepository, AcceleratorsService, ModelsRepository, ModelsService, UploadsService],
  // Servers check brand and card references, services check model references (and register theirs to models).
  exports: [BrandsService, AcceleratorsService, ModelsService],
})
export class InventoryModule {}
