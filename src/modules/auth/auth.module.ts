import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { ThrottlerModule } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import { createSecretKey, randomBytes } from 'node:crypto';
import { RedisConnections } from '../../cluster/redis-connections';
import { SharedThrottlerStorage } from '../../cluster/shared-throttler-storage';
import { loadOrCreateSecretFile } from '../../common/secret-file';
import { authConfig, AuthConfig } from '../../config/configuration';
import { ApiToken } from './api-token.entity';
import { ApiTokensService } from './api-tokens.service';
import { AuthController } from './auth.controller';
import { AuthGuard } from './auth.guard';
import { AuthService } from './auth.service';
import { SignInAttempts } from './sign-in-attempts';
import { RevokedSession } from './revoked-session.entity';
import { TokensRepository } from './tokens.repository';
import { User } from './user.entity';
import { UsersController } from './users.controller';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

@Module({
  imports: [
    TypeOrmModule.forFeature([User, ApiToken, RevokedSession]),
    JwtModule.registerAsync({
      inject: [authConfig.KEY],
      useFactory: (config: AuthConfig) => ({
        // A KeyObject: given a string, jsonwebtoken first tries (and fails) to parse it as a public key on every
        // verify, which costs more than the rest of an authenticated request.
        secret: createSecretKey(
          Buffer.from(config.jwtSecret ?? loadOrCreateSecretFile(config.jwtSecretFile, () => randomBytes(48).toString('base64url'))),
        ),
        signOptions: { algorithm: 'HS256', expiresIn: config.tokenTtlSeconds },
        verifyOptions: { algorithms: ['HS256'] },
      }),
    }),
    // Used by LoginThrottlerGuard on the login route only: every attempt per client address. Failures per username
    // are counted by SignInAttempts in the same storage: in Redis when there is one, so across instances.
    ThrottlerModule.forRootAsync({
      inject: [authConfig.KEY, RedisConnections],
      useFactory: (config: AuthConfig, redis: RedisConnections) => ({
        throttlers: [{ name: 'default', ttl: config.loginWindowMs, limit: config.loginLimitPerIp }],
        storage: redis.enabled ? new SharedThrottlerStorage(redis.commands()) : undefined,
      }),
    }),
  ],
  controllers: [AuthController, UsersController],
  providers: [
    UsersRepository,
    TokensRepository,
    SignInAttempts,
    AuthService,
    ApiTokensService,
    UsersService,
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [AuthService, ApiTokensService, UsersService],
})
export class AuthModule {}
