import { MigrationInterface, QueryRunner } from 'typeorm';

/** Users, API tokens, revoked login sessions and the audit log. */
export class AuthAndAudit1795557400000 implements MigrationInterface {
  name = 'AuthAndAudit1795557400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const postgres = queryRunner.connection.options.type === 'postgres';
    const varchar = (length: number) => (postgres ? `character varying(${length})` : `varchar(${length})`);
    const timestamp = postgres ? 'TIMESTAMP WITH TIME ZONE' : 'datetime';
    const serialKey = postgres ? '"id" SERIAL NOT NULL' : '"id" integer PRIMARY KEY AUTOINCREMENT NOT NULL';
    const primaryKey = (name: string) => (postgres ? `, CONSTRAINT "${name}" PRIMARY KEY ("id")` : '');
    const now = postgres ? 'now()' : `(datetime('now'))`;
    const userForeignKey = `CONSTRAINT "FK_b74883f5884a42fd8496d389b25" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON DELETE CASCADE ON UPDATE NO ACTION`;
    for (const statement of [
      `CREATE TABLE "audit_events" (${serialKey}, "at" ${timestamp} NOT NULL, "username" ${varchar(64)}, "ip" ${varchar(64)}, "action" ${varchar(64)} NOT NULL, "target" ${varchar(128)}, "detail" text${primaryKey('PK_910f64d901a5c3e9878f0d4a407')})`,
      `CREATE INDEX "IDX_3648e11676f1929b9875ee272b" ON "audit_events" ("at") `,
      `CREATE INDEX "IDX_dfbeecd862a14e6bb73208be3b" ON "audit_events" ("username") `,
      `CREATE INDEX "IDX_68d908019304f757740bc47a0a" ON "audit_events" ("action") `,
      `CREATE TABLE "users" (${serialKey}, "username" ${varchar(64)} NOT NULL, "password_hash" ${varchar(255)} NOT NULL, "role" ${varchar(16)} NOT NULL, "disabled" boolean NOT NULL DEFAULT ${postgres ? 'false' : '(0)'}, "password_changed_at" ${timestamp}, "created_at" ${timestamp} NOT NULL DEFAULT ${now}${primaryKey('PK_a3ffb1c0c8416b9fc6f907b7433')})`,
      // One account per name in any letter case, enforced by the database so concurrent creations cannot both win.
      `CREATE UNIQUE INDEX "IDX_users_username_lower" ON "users" (lower("username"))`,
      `CREATE TABLE "api_tokens" (${serialKey}, "name" ${varchar(128)} NOT NULL, "token_hash" ${varchar(64)} NOT NULL, "role" ${varchar(16)} NOT NULL, "user_id" integer NOT NULL, "expires_at" ${timestamp}, "last_used_at" ${timestamp}, "created_at" ${timestamp} NOT NULL DEFAULT ${now}${primaryKey('PK_c587455266b5fa8dace7194caac')}, ${userForeignKey})`,
      `CREATE UNIQUE INDEX "IDX_bbd687a104e1921e6702c6e3aa" ON "api_tokens" ("token_hash") `,
      `CREATE INDEX "IDX_b74883f5884a42fd8496d389b2" ON "api_tokens" ("user_id") `,
      `CREATE TABLE "revoked_sessions" ("id" ${varchar(64)} ${postgres ? 'NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_d593ed058225cdb3fe0846dd0f7" PRIMARY KEY ("id")' : 'PRIMARY KEY NOT NULL, "expires_at" datetime NOT NULL'})`,
    ]) {
      await queryRunner.query(statement);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['revoked_sessions', 'api_tokens', 'users', 'audit_events']) await queryRunner.query(`DROP TABLE "${table}"`);
  }
}
