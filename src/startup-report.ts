import { INestApplication } from '@nestjs/common';
import { boxed, redactedUrl } from './common/text-output';
import {
  ClusterConfig,
  clusterConfig,
  DatabaseConfig,
  databaseConfig,
  HttpConfig,
  httpConfig,
  StorageConfig,
  storageConfig,
} from './config/configuration';
import { logLevelsUpTo } from './config/environment';
import { AuthService, FirstStartAdmin } from './modules/auth/auth.service';

/**
 * What whoever started the backend needs to know, once it listens: where, the docs, the database, whether sign-in is
 * on, and on first start the admin's generated password in a box. The password shows at every LOG_LEVEL: it is the
 * only copy; the rest only from `log` up, like the lines it replaces.
 */
export function startupReport(app: INestApplication): string {
  const http = app.get<HttpConfig>(httpConfig.KEY);
  const auth = app.get(AuthService);
  const admin = auth.firstStartAdmin;
  const url = browsableUrl(http);
  const blocks: string[] = [];
  if (logLevelsUpTo(http.logLevel).includes('log')) {
    const lines: [string, string][] = [
      ['API docs', `${url}/api/docs`],
      ['Database', databaseLine(app.get<DatabaseConfig>(databaseConfig.KEY))],
      ['Sign-in', signInLine(auth.enabled, admin)],
      ['Admin UI', adminUiLine(app.get<StorageConfig>(storageConfig.KEY), url)],
    ];
    const redisUrl = app.get<ClusterConfig>(clusterConfig.KEY).redisUrl;
    if (redisUrl) lines.push(['Redis', `${redactedUrl(redisUrl)} (events, limits and cache shared between instances)`]);
    blocks.push(
      [`InfiniStudio backend listening on http://${http.host}:${http.port}`, ...lines.map(([name, text]) => `  ${name.padEnd(9)} ${text}`)].join(
        '\n',
      ),
    );
  }
  if (admin?.generatedPassword) {
    blocks.push(
      boxed([
        `First start: the admin user "${admin.username}" was created with this password,`,
        'shown only this once:',
        '',
        `    ${admin.generatedPassword}`,
        '',
        `Sign in at ${url}/login and change it (PUT /api/auth/password).`,
        `Lost it? npm run admin -- reset-password ${admin.username}`,
      ]),
    );
  }
  return blocks.map((block) => `${block}\n`).join('\n');
}

/** The address to open in a browser on this machine: a wildcard listen address is not one. */
function browsableUrl(http: HttpConfig): string {
  const host = ['0.0.0.0', '::', '[::]'].includes(http.host) ? 'localhost' : http.host.includes(':') ? `[${http.host}]` : http.host;
  return `http://${host}:${http.port}`;
}

function databaseLine(database: DatabaseConfig): string {
  return database.kind === 'sqlite' ? `SQLite, ${database.file}` : `PostgreSQL, ${redactedUrl(database.url)}`;
}

function signInLine(enabled: boolean, admin: FirstStartAdmin | undefined): string {
  if (!enabled) return 'OFF (AUTH_ENABLED=false): anyone who can reach this port is an admin';
  if (admin && !admin.generatedPassword) return `on; created the admin user "${admin.username}" with the password in ADMIN_PASSWORD`;
  return 'on';
}

function adminUiLine(storage: StorageConfig, url: string): string {
  return storage.uiDir ? `${url}/ (from ${storage.uiDir})` : 'not served (UI_DIR unset)';
}
