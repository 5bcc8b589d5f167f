import { MigrationInterface, QueryRunner } from 'typeorm';

/** The metric history: a row per server and sampling slot (raw) or five-minute bucket (averages). */
export class ServerSamples1796087889495 implements MigrationInterface {
  name = 'ServerSamples1796087889495';

  async up(queryRunner: QueryRunner): Promise<void> {
    const postgres = queryRunner.connection.options.type === 'postgres';
    for (const statement of postgres ? POSTGRES_UP : SQLITE_UP) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "server_samples"`);
  }
}

const INDEX = `CREATE UNIQUE INDEX "IDX_bc00f196e810090ca6809140ed" ON "server_samples" ("server_id", "resolution", "taken_at") `;

const SQLITE_UP = [
  `CREATE TABLE "server_samples" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "server_id" integer NOT NULL, "resolution" varchar(8) NOT NULL, "taken_at" datetime NOT NULL, "online" real, "cpu_usage" real, "memory_usage" real, "disk_usage" real, "cards" text, CONSTRAINT "FK_8b8b8d8ab253d0aa7ec84acceca" FOREIGN KEY ("server_id") REFERENCES "servers" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`,
  INDEX,
];

const POSTGRES_UP = [
  `CREATE TABLE "server_samples" ("id" SERIAL NOT NULL, "server_id" integer NOT NULL, "resolution" character varying(8) NOT NULL, "taken_at" TIMESTAMP WITH TIME ZONE NOT NULL, "online" real, "cpu_usage" real, "memory_usage" real, "disk_usage" real, "cards" text, CONSTRAINT "PK_3d82dc233be23ece6ad6688339f" PRIMARY KEY ("id"))`,
  INDEX,
  `ALTER TABLE "server_samples" ADD CONSTRAINT "FK_8b8b8d8ab253d0aa7ec84acceca" FOREIGN KEY ("server_id") REFERENCES "servers"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
];
