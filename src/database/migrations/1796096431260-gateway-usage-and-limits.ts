import { MigrationInterface, QueryRunner } from 'typeorm';

/** The /v1 gateway: model aliases on services, per-minute limits on API tokens, and usage per day, caller, token and model. */
export class GatewayUsageAndLimits1796096431260 implements MigrationInterface {
  name = 'GatewayUsageAndLimits1796096431260';

  async up(queryRunner: QueryRunner): Promise<void> {
    const postgres = queryRunner.connection.options.type === 'postgres';
    for (const statement of [
      postgres ? POSTGRES_USAGE_TABLE : SQLITE_USAGE_TABLE,
      `CREATE INDEX "IDX_c5d1e50f0a2fb7413395c0cd7e" ON "gateway_usage" ("user_id") `,
      `CREATE INDEX "IDX_09635bc04929a3843c1974246f" ON "gateway_usage" ("token_id") `,
      `CREATE UNIQUE INDEX "IDX_6721bfe7269e29adb2bc6c8a2b" ON "gateway_usage" ("day", "user_id", "token_id", "model") `,
      `ALTER TABLE "api_tokens" ADD "rpm_limit" integer`,
      `ALTER TABLE "api_tokens" ADD "tpm_limit" integer`,
      `ALTER TABLE "services" ADD "aliases" text NOT NULL DEFAULT ${postgres ? `'[]'` : `('[]')`}`,
    ]) {
      await queryRunner.query(statement);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "services" DROP COLUMN "aliases"`);
    await queryRunner.query(`ALTER TABLE "api_tokens" DROP COLUMN "tpm_limit"`);
    await queryRunner.query(`ALTER TABLE "api_tokens" DROP COLUMN "rpm_limit"`);
    await queryRunner.query(`DROP TABLE "gateway_usage"`);
  }
}

const SQLITE_USAGE_TABLE = `CREATE TABLE "gateway_usage" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "day" varchar(10) NOT NULL, "user_id" integer NOT NULL, "token_id" integer NOT NULL, "model" varchar(128) NOT NULL, "requests" integer NOT NULL DEFAULT (0), "prompt_tokens" integer NOT NULL DEFAULT (0), "completion_tokens" integer NOT NULL DEFAULT (0), "total_tokens" integer NOT NULL DEFAULT (0))`;

const POSTGRES_USAGE_TABLE = `CREATE TABLE "gateway_usage" ("id" SERIAL NOT NULL, "day" character varying(10) NOT NULL, "user_id" integer NOT NULL, "token_id" integer NOT NULL, "model" character varying(128) NOT NULL, "requests" integer NOT NULL DEFAULT '0', "prompt_tokens" integer NOT NULL DEFAULT '0', "completion_tokens" integer NOT NULL DEFAULT '0', "total_tokens" integer NOT NULL DEFAULT '0', CONSTRAINT "PK_8572f3857bc717be3583aa7d140" PRIMARY KEY ("id"))`;
