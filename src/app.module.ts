import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { ClusterModule } from './cluster/cluster.module';
import { AllExceptionsFilter } from './common/filters/all-exceptions.filter';
import { MultipartRoutesGuard } from './common/multipart-routes.guard';
import { createValidationPipe } from './common/validation';
import {
  auditConfig,
  authConfig,
  clusterConfig,
  databaseConfig,
  httpConfig,
  readCacheConfig,
  secretsConfig,
  servicesConfig,
  chatConfig,
  serversConfig,
  metricsConfig,
  sshConfig,
  storageConfig,
  tasksConfig,
  terminalConfig,
} from './config/configuration';
import { validateEnvironment } from './config/environment';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { HotReadsModule } from './hot-reads/hot-reads.module';
import { AuditModule } from './modules/audit/audit.module';
import { AuthModule } from './modules/auth/auth.module';
import { ChatModule } from './modules/chat/chat.module';
import { GatewayModule } from './modules/gateway/gateway.module';
import { InventoryModule } from './modules/inventory/inventory.module';
import { MetricsModule } from './modules/metrics/metrics.module';
import { ServersModule } from './modules/servers/servers.module';
import { ServicesModule } from './modules/services/services.module';
import { StatsModule } from './modules/stats/stats.module';
import { TasksModule } from './modules/tasks/tasks.module';
import { TerminalModule } from './modules/terminal/terminal.module';
import { ObservabilityModule } from './observability/observability.module';
import { RealtimeModule } from './realtime/realtime.module';
import { UiModule } from './ui/ui.module';

@Module({
  imports: [
    ConfigModule.forRoot({
      isGlobal: true,
      ignoreEnvFile: true,
      load: [
        authConfig,
        auditConfig,
        httpConfig,
        storageConfig,
        databaseConfig,
        readCacheConfig,
        clusterConfig,
        sshConfig,
        terminalConfig,
        serversConfig,
        metricsConfig,
        servicesConfig,
        chatConfig,
        tasksConfig,
        secretsConfig,
      ],
      validate: (env) => ({ ...env, ...validateEnvironment(env) }),
    }),
    ScheduleModule.forRoot(),
    ClusterModule,
    DatabaseModule,
    HealthModule,
    HotReadsModule,
    AuditModule,
    AuthModule,
    InventoryModule,
    ServersModule,
    MetricsModule,
    ServicesModule,
    ChatModule,
    GatewayModule,
    TasksModule,
    RealtimeModule,
    TerminalModule,
    StatsModule,
    ObservabilityModule,
    UiModule,
  ],
  providers: [
    { provide: APP_PIPE, useFactory: createValidationPipe },
    { provide: APP_FILTER, useClass: AllExceptionsFilter },
    { provide: APP_GUARD, useClass: MultipartRoutesGuard },
  ],
})
export class AppModule {}
