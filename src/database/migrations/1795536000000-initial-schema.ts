import { MigrationInterface, QueryRunner } from 'typeorm';

/** The seven tables of the original backend, with foreign keys the Flask version lacked. */
export class InitialSchema1795536000000 implements MigrationInterface {
  name = 'InitialSchema1795536000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const statements = queryRunner.connection.options.type === 'postgres' ? POSTGRES_UP : SQLITE_UP;
    for (const statement of statements) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['tasks', 'servers', 'accelerator_cards', 'brands', 'chat_history', 'services', 'models']) {
      await queryRunner.query(`DROP TABLE "${table}"`);
    }
  }
}

const SQLITE_NOW = `datetime NOT NULL DEFAULT (datetime('now'))`;

const SQLITE_UP = [
  `CREATE TABLE "models" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "name" varchar(255) NOT NULL, "logo" varchar(2048), "parameters" varchar(255), "created_at" ${SQLITE_NOW})`,
  `CREATE TABLE "services" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "name" varchar(255) NOT NULL, "model_id" integer NOT NULL, "server_ids" text NOT NULL, "deploy_command" text, "deploy_status" varchar(16) NOT NULL DEFAULT ('offline'), "deploy_result" text, "created_at" ${SQLITE_NOW}, CONSTRAINT "FK_a31c30f3780119f18e28a0222c6" FOREIGN KEY ("model_id") REFERENCES "models" ("id") ON DELETE RESTRICT ON UPDATE NO ACTION)`,
  `CREATE INDEX "IDX_a31c30f3780119f18e28a0222c" ON "services" ("model_id") `,
  `CREATE TABLE "chat_history" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "service_id" integer NOT NULL, "role" varchar(16) NOT NULL, "content" text NOT NULL, "created_at" ${SQLITE_NOW}, CONSTRAINT "FK_26efcad2b18c601e92f7167bd5d" FOREIGN KEY ("service_id") REFERENCES "services" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`,
  `CREATE INDEX "IDX_2a597c979e6ad46142cf160b4a" ON "chat_history" ("service_id", "created_at") `,
  `CREATE TABLE "brands" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "name" varchar(255) NOT NULL, "logo" varchar(2048), "sort_order" integer NOT NULL DEFAULT (0), "created_at" ${SQLITE_NOW})`,
  `CREATE TABLE "accelerator_cards" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "brand_id" integer NOT NULL, "name" varchar(255) NOT NULL, "model" varchar(255) NOT NULL, "memory" varchar(255), "fp8_perf" varchar(255), "int8_perf" varchar(255), "bf16_perf" varchar(255), "fp16_perf" varchar(255), "fp32_perf" varchar(255), "interconnect_bandwidth" varchar(255), "created_at" ${SQLITE_NOW}, CONSTRAINT "FK_afeb6ab92c96be4c98e1961e291" FOREIGN KEY ("brand_id") REFERENCES "brands" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`,
  `CREATE INDEX "IDX_afeb6ab92c96be4c98e1961e29" ON "accelerator_cards" ("brand_id") `,
  `CREATE TABLE "servers" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "name" varchar(255) NOT NULL, "brand_id" integer, "model_id" integer, "host_ip" varchar(255) NOT NULL, "port" integer NOT NULL DEFAULT (22), "username" varchar(255) NOT NULL, "password" text, "agent_port" integer NOT NULL DEFAULT (8888), "status" varchar(16) NOT NULL DEFAULT ('offline'), "last_check" datetime, "created_at" ${SQLITE_NOW}, CONSTRAINT "FK_d64b014e510ac730e2f3e8f113f" FOREIGN KEY ("brand_id") REFERENCES "brands" ("id") ON DELETE SET NULL ON UPDATE NO ACTION, CONSTRAINT "FK_2e5f71dadef953c0e9c39fb264f" FOREIGN KEY ("model_id") REFERENCES "accelerator_cards" ("id") ON DELETE SET NULL ON UPDATE NO ACTION)`,
  `CREATE INDEX "IDX_d64b014e510ac730e2f3e8f113" ON "servers" ("brand_id") `,
  `CREATE INDEX "IDX_2e5f71dadef953c0e9c39fb264" ON "servers" ("model_id") `,
  `CREATE TABLE "tasks" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "name" varchar(255) NOT NULL, "command" text NOT NULL, "server_id" integer NOT NULL, "schedule_type" varchar(16) NOT NULL, "status" varchar(16) NOT NULL DEFAULT ('pending'), "last_run" datetime, "result" text, "created_at" ${SQLITE_NOW}, CONSTRAINT "FK_103032ce57143a39cf8aefb90f1" FOREIGN KEY ("server_id") REFERENCES "servers" ("id") ON DELETE RESTRICT ON UPDATE NO ACTION)`,
  `CREATE INDEX "IDX_103032ce57143a39cf8aefb90f" ON "tasks" ("server_id") `,
];

const PG_NOW = `TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()`;

const POSTGRES_UP = [
  `CREATE TABLE "models" ("id" SERIAL NOT NULL, "name" character varying(255) NOT NULL, "logo" character varying(2048), "parameters" character varying(255), "created_at" ${PG_NOW}, CONSTRAINT "PK_ef9ed7160ea69013636466bf2d5" PRIMARY KEY ("id"))`,
  `CREATE TABLE "services" ("id" SERIAL NOT NULL, "name" character varying(255) NOT NULL, "model_id" integer NOT NULL, "server_ids" text NOT NULL, "deploy_command" text, "deploy_status" character varying(16) NOT NULL DEFAULT 'offline', "deploy_result" text, "created_at" ${PG_NOW}, CONSTRAINT "PK_ba2d347a3168a296416c6c5ccb2" PRIMARY KEY ("id"))`,
  `CREATE INDEX "IDX_a31c30f3780119f18e28a0222c" ON "services" ("model_id") `,
  `CREATE TABLE "chat_history" ("id" SERIAL NOT NULL, "service_id" integer NOT NULL, "role" character varying(16) NOT NULL, "content" text NOT NULL, "created_at" ${PG_NOW}, CONSTRAINT "PK_cf76a7693b0b075dd86ea05f21d" PRIMARY KEY ("id"))`,
  `CREATE INDEX "IDX_2a597c979e6ad46142cf160b4a" ON "chat_history" ("service_id", "created_at") `,
  `CREATE TABLE "brands" ("id" SERIAL NOT NULL, "name" character varying(255) NOT NULL, "logo" character varying(2048), "sort_order" integer NOT NULL DEFAULT '0', "created_at" ${PG_NOW}, CONSTRAINT "PK_b0c437120b624da1034a81fc561" PRIMARY KEY ("id"))`,
  `CREATE TABLE "accelerator_cards" ("id" SERIAL NOT NULL, "brand_id" integer NOT NULL, "name" character varying(255) NOT NULL, "model" character varying(255) NOT NULL, "memory" character varying(255), "fp8_perf" character varying(255), "int8_perf" character varying(255), "bf16_perf" character varying(255), "fp16_perf" character varying(255), "fp32_perf" character varying(255), "interconnect_bandwidth" character varying(255), "created_at" ${PG_NOW}, CONSTRAINT "PK_4ba292bc39197356454a9bfbc60" PRIMARY KEY ("id"))`,
  `CREATE INDEX "IDX_afeb6ab92c96be4c98e1961e29" ON "accelerator_cards" ("brand_id") `,
  `CREATE TABLE "servers" ("id" SERIAL NOT NULL, "name" character varying(255) NOT NULL, "brand_id" integer, "model_id" integer, "host_ip" character varying(255) NOT NULL, "port" integer NOT NULL DEFAULT '22', "username" character varying(255) NOT NULL, "password" text, "agent_port" integer NOT NULL DEFAULT '8888', "status" character varying(16) NOT NULL DEFAULT 'offline', "last_check" TIMESTAMP WITH TIME ZONE, "created_at" ${PG_NOW}, CONSTRAINT "PK_c0947efd9f3db2dcc010164d20b" PRIMARY KEY ("id"))`,
  `CREATE INDEX "IDX_d64b014e510ac730e2f3e8f113" ON "servers" ("brand_id") `,
  `CREATE INDEX "IDX_2e5f71dadef953c0e9c39fb264" ON "servers" ("model_id") `,
  `CREATE TABLE "tasks" ("id" SERIAL NOT NULL, "name" character varying(255) NOT NULL, "command" text NOT NULL, "server_id" integer NOT NULL, "schedule_type" character varying(16) NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'pending', "last_run" TIMESTAMP WITH TIME ZONE, "result" text, "created_at" ${PG_NOW}, CONSTRAINT "PK_8d12ff38fcc62aaba2cab748772" PRIMARY KEY ("id"))`,
  `CREATE INDEX "IDX_103032ce57143a39cf8aefb90f" ON "tasks" ("server_id") `,
  `ALTER TABLE "services" ADD CONSTRAINT "FK_a31c30f3780119f18e28a0222c6" FOREIGN KEY ("model_id") REFERENCES "models"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
  `ALTER TABLE "chat_history" ADD CONSTRAINT "FK_26efcad2b18c601e92f7167bd5d" FOREIGN KEY ("service_id") REFERENCES "services"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
  `ALTER TABLE "accelerator_cards" ADD CONSTRAINT "FK_afeb6ab92c96be4c98e1961e291" FOREIGN KEY ("brand_id") REFERENCES "brands"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
  `ALTER TABLE "servers" ADD CONSTRAINT "FK_d64b014e510ac730e2f3e8f113f" FOREIGN KEY ("brand_id") REFERENCES "brands"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
  `ALTER TABLE "servers" ADD CONSTRAINT "FK_2e5f71dadef953c0e9c39fb264f" FOREIGN KEY ("model_id") REFERENCES "accelerator_cards"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
  `ALTER TABLE "tasks" ADD CONSTRAINT "FK_103032ce57143a39cf8aefb90f1" FOREIGN KEY ("server_id") REFERENCES "servers"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
];
