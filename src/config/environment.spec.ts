import { authConfig } from './configuration';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { environment, validateEnvironment, VARIABLE_NAMES } from './environment';

describe('validateEnvironment', () => {
  it('gives the defaults that make `npm start` work with no configuration', () => {
    const env = validateEnvironment({});
    expect(env).toMatchObject({
      PORT: 5000,
      HOST: '0.0.0.0',
      DATA_DIR: './data',
      LOG_LEVEL: 'log',
      UPLOAD_MAX_BYTES: 5 * 1024 * 1024,
    });
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('converts numbers and accepts a PostgreSQL URL', () => {
    const env = validateEnvironment({ PORT: '8080', UPLOAD_MAX_BYTES: '1048576', DATABASE_URL: 'postgres://u@db:5432/infini' });
    expect(env.PORT).toBe(8080);
    expect(env.UPLOAD_MAX_BYTES).toBe(1048576);
    expect(env.DATABASE_URL).toBe('postgres://u@db:5432/infini');
  });

  it('treats an empty DATABASE_URL as unset (SQLite)', () => {
    expect(validateEnvironment({ DATABASE_URL: '' }).DATABASE_URL).toBeUndefined();
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['LOG_LEVEL', 'loud'],
    ['UPLOAD_MAX_BYTES', '-5'],
    ['DATABASE_URL', 'mysql://root@localhost/db'],
  ])('refuses %s=%s with a message naming the variable', (name, value) => {
    expect(() => validateEnvironment({ [name]: value })).toThrow(new RegExp(`Invalid configuration: .*${name}=`));
  });

  it.each([
    ['abc', 'PORT="abc": PORT must be an integer number'],
    ['70000', 'PORT=70000: PORT must not be greater than 65535'],
  ])('says one thing about PORT=%s', (value, reason) => {
    expect(() => validateEnvironment({ PORT: value })).toThrow(new Error(`Invalid configuration: ${reason}`));
  });

  it('names every bad variable at once', () => {
    expect(() => validateEnvironment({ PORT: 'x', LOG_LEVEL: 'y' })).toThrow(/PORT=.*LOG_LEVEL=|LOG_LEVEL=.*PORT=/);
  });

  it('refuses a TRUST_PROXY it cannot read, and takes one it can', () => {
    expect(() => validateEnvironment({ TRUST_PROXY: 'my-nginx' })).toThrow(/TRUST_PROXY/);
    expect(validateEnvironment({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).TRUST_PROXY).toBe('loopback, 10.0.0.0/8');
  });

  it.each([
    ['DATABASE_URL', 'mysql://root@localhost/db'],
    ['ENCRYPTION_KEY', 'short'],
    ['ADMIN_PASSWORD', 'x'],
    ['JWT_SECRET', 'too-short'],
    ['LOGIN_RATE_LIMIT_PER_USER_IP', 'many'],
  ])('reads the optional %s, which has no default, too', (name, bad) => {
    expect(() => validateEnvironment({ [name]: bad })).toThrow(new RegExp(`${name}=`));
  });

  describe('environment()', () => {
    const saved = process.env;
    afterEach(() => {
      process.env = saved;
    });

    it('validates once for the many config areas that ask, and again when a variable changes', () => {
      process.env = { ...saved, PORT: '6001' };
      const first = environment();
      expect(environment()).toBe(first);
      // Changed in place, as test helpers do, or replaced: either is seen.
      process.env.PORT = '6002';
      expect(environment().PORT).toBe(6002);
      process.env = { ...saved, PORT: '6003', JWT_SECRET: 'x'.repeat(32) };
      expect(environment()).toMatchObject({ PORT: 6003, JWT_SECRET: 'x'.repeat(32) });
    });

    it('ignores variables that are not settings', () => {
      process.env = { ...saved, PORT: '6004' };
      const first = environment();
      process.env.SOME_OTHER_TOOL = 'on';
      expect(environment()).toBe(first);
    });

    it('keeps refusing a bad value rather than remembering an earlier good one', () => {
      process.env = { ...saved, PORT: '6005' };
      environment();
      process.env.PORT = 'abc';
      expect(() => environment()).toThrow(/PORT=/);
      expect(() => environment()).toThrow(/PORT=/);
    });
  });

  describe('sign-in limits', () => {
    const saved = process.env;
    afterEach(() => {
      process.env = saved;
    });
    /** authConfig() with `env` and no other LOGIN_ variable. */
    const limits = (env: Record<string, string>) => {
      process.env = { ...Object.fromEntries(Object.entries(saved).filter(([name]) => !name.startsWith('LOGIN_'))), ...env };
      const { loginLimitPerIp, loginFailuresPerUserIp, loginWindowMs, loginFailureCeiling, loginFailureCeilingWindowMs } = authConfig();
      return { loginLimitPerIp, loginFailuresPerUserIp, loginWindowMs, loginFailureCeiling, loginFailureCeilingWindowMs };
    };

    it('default to 20 attempts per address and 5 failures per username and address a minute, and 100 failures per username in 15 minutes', () => {
      expect(limits({})).toEqual({
        loginLimitPerIp: 20,
        loginFailuresPerUserIp: 5,
        loginWindowMs: 60_000,
        loginFailureCeiling: 100,
        loginFailureCeilingWindowMs: 900_000,
      });
    });

    it('take LOGIN_RATE_LIMIT_PER_USER, the older name, when LOGIN_RATE_LIMIT_PER_USER_IP is unset', () => {
      expect(limits({ LOGIN_RATE_LIMIT_PER_USER: '3' }).loginFailuresPerUserIp).toBe(3);
      expect(limits({ LOGIN_RATE_LIMIT_PER_USER: '3', LOGIN_RATE_LIMIT_PER_USER_IP: '7' }).loginFailuresPerUserIp).toBe(7);
      expect(limits({ LOGIN_RATE_LIMIT_PER_USER: '3', LOGIN_RATE_LIMIT_PER_USER_IP: ' ' }).loginFailuresPerUserIp).toBe(3);
    });

    it.each(['LOGIN_RATE_LIMIT_PER_USER_IP', 'LOGIN_FAILURE_CEILING_PER_USER', 'LOGIN_FAILURE_CEILING_WINDOW_SECONDS'])('refuses %s=0', (name) => {
      expect(() => validateEnvironment({ [name]: '0' })).toThrow(new RegExp(`${name}=`));
    });
  });
});

describe('.env.example', () => {
  const text = readFileSync(join(__dirname, '..', '..', '.env.example'), 'utf8');

  it('is accepted as it is when copied to .env', () => {
    expect(() => validateEnvironment(parseEnv(text))).not.toThrow();
  });

  it('lists every variable the backend reads', () => {
    expect(VARIABLE_NAMES.filter((name) => !new RegExp(`^(# )?${name}=`, 'm').test(text))).toEqual([]);
  });
});
