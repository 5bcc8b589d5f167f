import { MigrationInterface, QueryRunner } from 'typeorm';

/** Every deploy, restart and stop of a service is kept: who started it, the command, per-server results, the end. */
export class ServiceOperationHistory1796075000000 implements MigrationInterface {
  name = 'ServiceOperationHistory1796075000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const postgres = queryRunner.connection.options.type === 'postgres';
    for (const statement of postgres ? POSTGRES_UP : SQLITE_UP) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "service_operations"`);
  }
}

const INDEX = `CREATE INDEX "IDX_64aed0da9a330b8ae2f3445afe" ON "service_operations" ("service_id", "started_at") `;

const SQLITE_UP = [
  `CREATE TABLE "service_operations" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "service_id" integer NOT NULL, "operation" varchar(16) NOT NULL, "started_by" varchar(64), "started_at" datetime NOT NULL, "finished_at" datetime, "command" text, "outcome" varchar(16) NOT NULL, "results" text, "status_after" varchar(16), CONSTRAINT "FK_feda539c38f3e49b841377ecff1" FOREIGN KEY ("service_id") REFERENCES "services" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`,
  INDEX,
];

const POSTGRES_UP = [
  `CREATE TABLE "service_operations" ("id" SERIAL NOT NULL, "service_id" integer NOT NULL, "operation" character varying(16) NOT NULL, "started_by" character varying(64), "started_at" TIMESTAMP WITH TIME ZONE NOT NULL, "finished_at" TIMESTAMP WITH TIME ZONE, "command" text, "outcome" character varying(16) NOT NULL, "results" text, "status_after" character varying(16), CONSTRAINT "PK_05fb0abbff9b30d3a1a1b0863d1" PRIMARY KEY ("id"))`,
  INDEX,
  `ALTER TABLE "service_operations" ADD CONSTRAINT "FK_feda539c38f3e49b841377ecff1" FOREIGN KEY ("service_id") REFERENCES "services"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
];
