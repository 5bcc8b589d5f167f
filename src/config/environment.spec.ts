import { validateEnvironment } from './environment';

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

  it('names every bad variable at once', () => {
    expect(() => validateEnvironment({ PORT: 'x', LOG_LEVEL: 'y' })).toThrow(/PORT=.*LOG_LEVEL=|LOG_LEVEL=.*PORT=/);
  });

  it('refuses a TRUST_PROXY it cannot read, and takes one it can', () => {
    expect(() => validateEnvironment({ TRUST_PROXY: 'my-nginx' })).toThrow(/TRUST_PROXY/);
    expect(validateEnvironment({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).TRUST_PROXY).toBe('loopback, 10.0.0.0/8');
  });
});
