import { MigrationInterface, QueryRunner } from 'typeorm';

/** Tasks get real schedules (cron, time zone, run_at, enabled, next_run, timeout); runs record their slot and duration. */
export class TaskScheduling1795540300000 implements MigrationInterface {
  name = 'TaskScheduling1795540300000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const postgres = queryRunner.connection.options.type === 'postgres';
    const varchar = (length: number) => (postgres ? `character varying(${length})` : `varchar(${length})`);
    const timestamp = postgres ? 'TIMESTAMP WITH TIME ZONE' : 'datetime';
    for (const statement of [
      `ALTER TABLE "tasks" ADD "cron_expression" ${varchar(128)}`,
      `ALTER TABLE "tasks" ADD "timezone" ${varchar(64)}`,
      `ALTER TABLE "tasks" ADD "run_at" ${timestamp}`,
      `ALTER TABLE "tasks" ADD "enabled" boolean NOT NULL DEFAULT ${postgres ? 'true' : '(1)'}`,
      `ALTER TABLE "tasks" ADD "next_run" ${timestamp}`,
      `ALTER TABLE "tasks" ADD "timeout_seconds" integer NOT NULL DEFAULT ${postgres ? `'3600'` : '(3600)'}`,
      `ALTER TABLE "task_runs" ADD "scheduled_for" ${timestamp}`,
      `ALTER TABLE "task_runs" ADD "duration_ms" integer`,
      `CREATE INDEX "IDX_2a5bf336f53619993afa4519c4" ON "tasks" ("next_run") `,
    ]) {
      await queryRunner.query(statement);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "IDX_2a5bf336f53619993afa4519c4"`);
    for (const column of ['duration_ms', 'scheduled_for']) await queryRunner.query(`ALTER TABLE "task_runs" DROP COLUMN "${column}"`);
    for (const column of ['timeout_seconds', 'next_run', 'enabled', 'run_at', 'timezone', 'cron_expression']) {
      await queryRunner.query(`ALTER TABLE "tasks" DROP COLUMN "${column}"`);
    }
  }
}
