import { MigrationInterface, QueryRunner } from 'typeorm';

/** Servers gain key authentication, a pinned host key and a chat port; task executions get a history table. */
export class SshCredentialsAndTaskRuns1795537900000 implements MigrationInterface {
  name = 'SshCredentialsAndTaskRuns1795537900000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const postgres = queryRunner.connection.options.type === 'postgres';
    const statements = postgres ? POSTGRES_UP : SQLITE_UP;
    for (const statement of statements) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "task_runs"`);
    for (const column of ['chat_port', 'host_key_fingerprint', 'passphrase', 'private_key', 'auth_type']) {
      await queryRunner.query(`ALTER TABLE "servers" DROP COLUMN "${column}"`);
    }
  }
}

const SERVER_COLUMNS = (text: string, varchar: (length: number) => string, defaultOf: (value: string) => string) => [
  `ALTER TABLE "servers" ADD "auth_type" ${varchar(16)} NOT NULL DEFAULT ${defaultOf(`'password'`)}`,
  `ALTER TABLE "servers" ADD "private_key" ${text}`,
  `ALTER TABLE "servers" ADD "passphrase" ${text}`,
  `ALTER TABLE "servers" ADD "host_key_fingerprint" ${varchar(128)}`,
  `ALTER TABLE "servers" ADD "chat_port" integer NOT NULL DEFAULT ${defaultOf(`'8000'`)}`,
];

const SQLITE_UP = [
  ...SERVER_COLUMNS(
    'text',
    (length) => `varchar(${length})`,
    (value) => `(${value.replace(/^'(\d+)'$/, '$1')})`,
  ),
  `CREATE TABLE "task_runs" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "task_id" integer NOT NULL, "trigger" varchar(16) NOT NULL, "started_at" datetime NOT NULL, "finished_at" datetime, "status" varchar(16) NOT NULL, "exit_status" integer, "output" text NOT NULL DEFAULT (''), "error" text NOT NULL DEFAULT (''), CONSTRAINT "FK_33f9addf6e998af00182fe26336" FOREIGN KEY ("task_id") REFERENCES "tasks" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`,
  `CREATE INDEX "IDX_fd823269100604f16a8f009878" ON "task_runs" ("task_id", "started_at") `,
];

const POSTGRES_UP = [
  ...SERVER_COLUMNS(
    'text',
    (length) => `character varying(${length})`,
    (value) => value,
  ),
  `CREATE TABLE "task_runs" ("id" SERIAL NOT NULL, "task_id" integer NOT NULL, "trigger" character varying(16) NOT NULL, "started_at" TIMESTAMP WITH TIME ZONE NOT NULL, "finished_at" TIMESTAMP WITH TIME ZONE, "status" character varying(16) NOT NULL, "exit_status" integer, "output" text NOT NULL DEFAULT '', "error" text NOT NULL DEFAULT '', CONSTRAINT "PK_52c37d0e12c4de37ae7bbff7850" PRIMARY KEY ("id"))`,
  `CREATE INDEX "IDX_fd823269100604f16a8f009878" ON "task_runs" ("task_id", "started_at") `,
  `ALTER TABLE "task_runs" ADD CONSTRAINT "FK_33f9addf6e998af00182fe26336" FOREIGN KEY ("task_id") REFERENCES "tasks"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
];
