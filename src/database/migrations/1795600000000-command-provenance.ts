import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every command that runs can be traced to a person: tasks record who last set their command, services which
 * operation their status and results belong to, and the audit log's filter by user gets an index it can use.
 */
export class CommandProvenance1795600000000 implements MigrationInterface {
  name = 'CommandProvenance1795600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const postgres = queryRunner.connection.options.type === 'postgres';
    const varchar = (length: number) => (postgres ? `character varying(${length})` : `varchar(${length})`);
    for (const statement of [
      `ALTER TABLE "tasks" ADD "command_set_by" ${varchar(64)}`,
      `ALTER TABLE "services" ADD "deploy_operation" ${varchar(16)}`,
      // The filter compares lower(username): a plain index on username cannot serve it (AUDIT_USERNAME_INDEX).
      `CREATE INDEX "IDX_audit_events_username_lower" ON "audit_events" (lower("username"))`,
    ]) {
      await queryRunner.query(statement);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "IDX_audit_events_username_lower"`);
    await queryRunner.query(`ALTER TABLE "services" DROP COLUMN "deploy_operation"`);
    await queryRunner.query(`ALTER TABLE "tasks" DROP COLUMN "command_set_by"`);
  }
}
