import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * The old Flask backend's schema as its init_db() left it: the CREATE TABLE statements of its first version, then the
 * columns it added later with ALTER TABLE (which therefore come last in their tables). SQLite without foreign keys, as
 * Python's sqlite3 module opens it, so dangling ids are possible.
 */
const LEGACY_SCHEMA = [
  `CREATE TABLE brands (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, logo TEXT, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)`,
  `CREATE TABLE accelerator_cards (id INTEGER PRIMARY KEY AUTOINCREMENT, brand_id INTEGER NOT NULL, name TEXT NOT NULL, model TEXT NOT NULL,
     memory TEXT, fp8_perf TEXT, int8_perf TEXT, bf16_perf TEXT, fp16_perf TEXT, fp32_perf TEXT, interconnect_bandwidth TEXT,
     created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, FOREIGN KEY (brand_id) REFERENCES brands (id))`,
  `CREATE TABLE models (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, logo TEXT, parameters TEXT, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)`,
  `CREATE TABLE servers (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, host_ip TEXT NOT NULL, port INTEGER DEFAULT 22,
     username TEXT NOT NULL, password TEXT, status TEXT DEFAULT 'pending', last_check TIMESTAMP, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)`,
  `CREATE TABLE services (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, model_id INTEGER NOT NULL, server_ids TEXT NOT NULL,
     deploy_command TEXT, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, FOREIGN KEY (model_id) REFERENCES models (id))`,
  `CREATE TABLE chat_history (id INTEGER PRIMARY KEY AUTOINCREMENT, service_id INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL,
     created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, FOREIGN KEY (service_id) REFERENCES services (id))`,
  `CREATE TABLE tasks (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, command TEXT NOT NULL, server_id INTEGER NOT NULL,
     schedule_type TEXT NOT NULL, status TEXT DEFAULT 'pending', last_run TIMESTAMP, result TEXT, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
     FOREIGN KEY (server_id) REFERENCES servers (id))`,
  // Added by later versions, each in a try/except sqlite3.OperationalError.
  `ALTER TABLE brands ADD COLUMN sort_order INTEGER DEFAULT 0`,
  `ALTER TABLE servers ADD COLUMN brand_id INTEGER`,
  `ALTER TABLE servers ADD COLUMN model_id INTEGER`,
  `ALTER TABLE servers ADD COLUMN agent_port INTEGER DEFAULT 8888`,
  `ALTER TABLE services ADD COLUMN deploy_status TEXT DEFAULT 'pending'`,
  `ALTER TABLE services ADD COLUMN deploy_result TEXT`,
];

/** A 1×1 PNG: logos must really be images (the uploads check their magic bytes). */
export const PNG_BYTES = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

/** The SSH account of server #1 (a real sshd where the suite has one). */
export interface LegacySshAccount {
  host: string;
  port: number;
  username: string;
  password: string;
}

export interface LegacyFixture {
  /** The `infini.db` file. */
  database: string;
  /** The old backend's uploads folder. */
  uploads: string;
  /** The logo files in it, by the row that uses them. */
  logos: { nvidia: string; qwen: string };
}

const NVIDIA_LOGO = '0b7f4f3e-2a52-4c37-9a53-8d0b4a7c1f10.png';
const QWEN_LOGO = '5d1c2e44-7f0e-4a8e-b3a5-0c9e6f3b2d71.png';

/**
 * Writes an old backend's database and uploads folder into `dir`: realistic rows, and the broken ones such a database
 * accumulates (dangling ids, malformed `server_ids`, an empty password, `pending` and unknown statuses, a logo whose
 * file is gone).
 */
export function createLegacyDatabase(dir: string, ssh: LegacySshAccount): LegacyFixture {
  const uploads = join(dir, 'uploads');
  mkdirSync(uploads, { recursive: true });
  writeFileSync(join(uploads, NVIDIA_LOGO), PNG_BYTES);
  writeFileSync(join(uploads, QWEN_LOGO), PNG_BYTES);
  const database = join(dir, 'infini.db');
  const statements: [string, unknown[]][] = [
    ...LEGACY_SCHEMA.map((sql): [string, unknown[]] => [sql, []]),
    ...rows(
      'brands',
      ['id', 'name', 'logo', 'sort_order', 'created_at'],
      [
        [1, 'NVIDIA', `/api/uploads/${NVIDIA_LOGO}`, 0, '2025-03-01 08:00:00'],
        [2, 'Huawei Ascend', 'https://logos.example/ascend.svg', 1, '2025-03-01 08:01:00'],
        [3, 'Cambricon', 'http://10.0.0.5:5000/api/uploads/deleted-long-ago.png', 2, '2025-03-01 08:02:00'],
      ],
    ),
    ...rows(
      'models',
      ['id', 'name', 'logo', 'parameters', 'created_at'],
      [
        [1, 'Qwen2-7B-Instruct', `/api/uploads/${QWEN_LOGO}`, '7B', '2025-03-02 09:00:00'],
        [2, 'jiuge', null, '9B', '2025-03-02 09:05:00'],
      ],
    ),
    ...rows(
      'accelerator_cards',
      ['id', 'brand_id', 'name', 'model', 'memory', 'fp16_perf', 'interconnect_bandwidth'],
      [
        [1, 1, 'H100', 'H100 SXM5', '80GB', '989 TFLOPS', '900 GB/s'],
        [2, 2, 'Ascend 910B', '910B3', '64GB', '313 TFLOPS', '392 GB/s'],
        [3, 99, 'Ghost card', 'X1', null, null, null],
      ],
    ),
    ...rows(
      'servers',
      ['id', 'name', 'host_ip', 'port', 'username', 'password', 'status', 'last_check', 'brand_id', 'model_id', 'agent_port'],
      [
        [1, 'gpu-node-1', ssh.host, ssh.port, ssh.username, ssh.password, 'pending', null, 1, 1, 8888],
        [2, 'gpu-node-2', '127.0.0.2', 22, 'root', '', 'online', '2025-04-01T10:00:00.123456', 2, 2, 8888],
        [3, 'typo', 'http://127.0.0.3; rm -rf /', 22, 'root', 'x', 'offline', null, null, null, 8888],
        [4, 'gpu-node-4', '127.0.0.4', 'twenty-two', 'ubuntu', 'secret-4', 'rebooting', null, 42, null, null],
      ],
    ),
    ...rows(
      'services',
      ['id', 'name', 'model_id', 'server_ids', 'deploy_command', 'deploy_status', 'deploy_result'],
      [
        [1, 'Qwen chat', 1, '[1, 2]', 'python -m vllm.entrypoints.openai.api_server --port 8000', 'deployed', deployResult()],
        [2, 'broken list', 1, '1,2', null, 'offline', null],
        [3, 'orphan', 77, '[1]', null, 'offline', null],
        [4, 'jiuge demo', 2, '[4, 999]', null, 'pending', null],
      ],
    ),
    ...rows(
      'chat_history',
      ['id', 'service_id', 'role', 'content', 'created_at'],
      [
        [1, 1, 'user', 'Hello, who are you?', '2025-05-01 12:00:00'],
        [2, 1, 'assistant', 'I am Qwen.', '2025-05-01 12:00:03'],
        [3, 2, 'user', 'lost with its service', '2025-05-01 12:01:00'],
        [4, 50, 'user', 'never had a service', '2025-05-01 12:02:00'],
        [5, 1, 'robot', 'beep', '2025-05-01 12:03:00'],
      ],
    ),
    ...rows(
      'tasks',
      ['id', 'name', 'command', 'server_id', 'schedule_type', 'status', 'last_run', 'result'],
      [
        [
          1,
          'say hello',
          'echo imported-task-ran',
          1,
          'daily',
          'completed',
          '2025-06-01T00:00:05',
          '{"output": "old output", "error": "", "success": true}',
        ],
        [2, 'clean tmp', 'rm -rf /tmp/old-*', 2, 'once', 'pending', null, null],
        [3, 'ghost', 'uptime', 123, 'daily', 'pending', null, null],
        [4, 'hourly', 'date', 1, 'hourly', 'pending', null, null],
      ],
    ),
  ];
  const db = new Database(database);
  // As Python's sqlite3 module leaves it; better-sqlite3 turns foreign keys on.
  db.pragma('foreign_keys = OFF');
  try {
    for (const [sql, parameters] of statements) db.prepare(sql).run(parameters);
  } finally {
    db.close();
  }
  return { database, uploads, logos: { nvidia: NVIDIA_LOGO, qwen: QWEN_LOGO } };
}

function rows(table: string, columns: string[], values: unknown[][]): [string, unknown[]][] {
  return values.map((row) => [`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`, row]);
}

/** As the old deploy thread stored it. */
function deployResult(): string {
  return JSON.stringify([
    { server_id: 1, server_name: 'gpu-node-1', server_ip: '127.0.0.1', success: true, output: 'deployed, pid 4242' },
    { server_id: 2, server_name: 'gpu-node-2', server_ip: '127.0.0.2', success: false, error: 'Connection refused' },
  ]);
}
