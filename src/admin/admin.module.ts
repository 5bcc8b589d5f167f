import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ClusterModule } from '../cluster/cluster.module';
import { CredentialVault } from '../common/credential-vault.service';
import { auditConfig, clusterConfig, databaseConfig, readCacheConfig, secretsConfig, storageConfig, tasksConfig } from '../config/configuration';
import { validateEnvironment } from '../config/environment';
import { DatabaseModule } from '../database/database.module';
import { AuditModule } from '../modules/audit/audit.module';
import { User } from '../modules/auth/user.entity';
import { UsersRepository } from '../modules/auth/users.repository';
import { UsersService } from '../modules/auth/users.service';
import { UploadsService } from '../modules/inventory/uploads.service';
import { LegacyImporter } from './legacy-import/legacy-importer.service';
import { LegacyImportRepository } from './legacy-import/legacy-import.repository';
import { UserCommands } from './user-commands';

/**
 * What the admin commands need and nothing more: the configuration, the database (migrated at start, as the backend
 * does), the audit trail, and the users, vault and uploads providers. No HTTP, scheduler or samplers.
 */
@Module({
  imports: [
    ConfigModule.forRoot({
      isGlobal: true,
      ignoreEnvFile: true,
      load: [auditConfig, storageConfig, databaseConfig, readCacheConfig, clusterConfig, tasksConfig, secretsConfig],
      validate: (env) => ({ ...env, ...validateEnvironment(env) }),
    }),
    // With REDIS_URL, the read-cache invalidations of these commands reach the running backends at once.
    ClusterModule,
    DatabaseModule,
    AuditModule,
    TypeOrmModule.forFeature([User]),
  ],
  providers: [UsersRepository, UsersService, CredentialVault, UploadsService, UserCommands, LegacyImportRepository, LegacyImporter],
})
export class AdminModule {}
