import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `services.server_ids` (a JSON list nothing enforced) becomes the `service_servers` join table with foreign keys.
 * Existing lists are converted in order; ids of servers that no longer exist, duplicates and values that are not
 * ids are dropped, as the schema now refuses them.
 */
export class ServiceServers1796085753200 implements MigrationInterface {
  name = 'ServiceServers1796085753200';

  async up(queryRunner: QueryRunner): Promise<void> {
    const postgres = queryRunner.connection.options.type === 'postgres';
    for (const statement of postgres ? POSTGRES_UP : SQLITE_UP) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const postgres = queryRunner.connection.options.type === 'postgres';
    for (const statement of postgres ? POSTGRES_DOWN : SQLITE_DOWN) await queryRunner.query(statement);
  }
}

const INDEX = `CREATE INDEX "IDX_abe69230fd385e58cc01b5cecd" ON "service_servers" ("server_id") `;

const SQLITE_UP = [
  `CREATE TABLE "service_servers" ("service_id" integer NOT NULL, "server_id" integer NOT NULL, "position" integer NOT NULL, CONSTRAINT "FK_1af54427cfda521ecb129dc1c03" FOREIGN KEY ("service_id") REFERENCES "services" ("id") ON DELETE CASCADE ON UPDATE NO ACTION, CONSTRAINT "FK_abe69230fd385e58cc01b5cecd8" FOREIGN KEY ("server_id") REFERENCES "servers" ("id") ON DELETE RESTRICT ON UPDATE NO ACTION, PRIMARY KEY ("service_id", "server_id"))`,
  INDEX,
  // A duplicated id keeps its first place.
  `INSERT INTO "service_servers" ("service_id", "server_id", "position")
   SELECT "services"."id", CAST("entry"."value" AS integer) AS "server_id", MIN("entry"."key")
   FROM "services", json_each("services"."server_ids") AS "entry"
   WHERE json_valid("services"."server_ids") AND json_type("services"."server_ids") = 'array'
     AND "entry"."type" IN ('integer', 'text') AND CAST("entry"."value" AS integer) IN (SELECT "id" FROM "servers")
   GROUP BY "services"."id", CAST("entry"."value" AS integer)`,
  `ALTER TABLE "services" DROP COLUMN "server_ids"`,
];

// A list that is not a JSON array of ids is dropped whole (PostgreSQL 15 cannot test a cast to jsonb).
const POSTGRES_UP = [
  `CREATE TABLE "service_servers" ("service_id" integer NOT NULL, "server_id" integer NOT NULL, "position" integer NOT NULL, CONSTRAINT "PK_84ca53ff371c809684c5e923dbf" PRIMARY KEY ("service_id", "server_id"))`,
  INDEX,
  `INSERT INTO "service_servers" ("service_id", "server_id", "position")
   SELECT "services"."id", "entry"."value"::integer, MIN("entry"."ordinality" - 1)
   FROM "services"
   CROSS JOIN LATERAL jsonb_array_elements_text(
     CASE WHEN "services"."server_ids" ~ '^\\s*\\[[\\s0-9",]*\\]\\s*$' THEN "services"."server_ids"::jsonb ELSE '[]'::jsonb END
   ) WITH ORDINALITY AS "entry"("value", "ordinality")
   WHERE "entry"."value" ~ '^[0-9]{1,9}$' AND "entry"."value"::integer IN (SELECT "id" FROM "servers")
   GROUP BY "services"."id", "entry"."value"::integer`,
  `ALTER TABLE "services" DROP COLUMN "server_ids"`,
  `ALTER TABLE "service_servers" ADD CONSTRAINT "FK_1af54427cfda521ecb129dc1c03" FOREIGN KEY ("service_id") REFERENCES "services"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
  `ALTER TABLE "service_servers" ADD CONSTRAINT "FK_abe69230fd385e58cc01b5cecd8" FOREIGN KEY ("server_id") REFERENCES "servers"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
];

const SQLITE_DOWN = [
  `ALTER TABLE "services" ADD COLUMN "server_ids" text NOT NULL DEFAULT ('[]')`,
  `UPDATE "services" SET "server_ids" = (SELECT json_group_array("server_id") FROM (SELECT "server_id" FROM "service_servers" WHERE "service_id" = "services"."id" ORDER BY "position"))`,
  `DROP TABLE "service_servers"`,
];

const POSTGRES_DOWN = [
  `ALTER TABLE "services" ADD "server_ids" text NOT NULL DEFAULT '[]'`,
  `UPDATE "services" SET "server_ids" = COALESCE((SELECT json_agg("server_id" ORDER BY "position")::text FROM "service_servers" WHERE "service_id" = "services"."id"), '[]')`,
  `ALTER TABLE "services" ALTER COLUMN "server_ids" DROP DEFAULT`,
  `DROP TABLE "service_servers"`,
];
