import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Response } from 'supertest';
import { startTestApp, TestApp } from './helpers/test-app';

const PNG = readFileSync(join(__dirname, 'fixtures/logo.png'));
const GIF = readFileSync(join(__dirname, 'fixtures/pixel.gif'));
const HTML = readFileSync(join(__dirname, 'fixtures/page.html'));
/** The start of a JFIF file: enough for the magic-byte check, which is all the server looks at. */
const JPEG = Buffer.from('ffd8ffe000104a46494600010100000100010000ffd9', 'hex');
const PNG_SIGNATURE = PNG.subarray(0, 8);
const UPLOAD_MAX_BYTES = 65536;
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

describe('uploads', () => {
  let t: TestApp;
  let uploadDir: string;

  beforeAll(async () => {
    t = await startTestApp({ UPLOAD_MAX_BYTES: String(UPLOAD_MAX_BYTES) });
    uploadDir = join(t.dataDir, 'uploads');
  });
  afterAll(() => t.close());

  const upload = (content: Buffer, filename: string) => t.http.post('/api/upload').attach('file', content, filename);

  /** Names in the uploads folder (it may not exist before the first successful upload). */
  const storedFiles = () => (existsSync(uploadDir) ? readdirSync(uploadDir).sort() : []);

  /** Runs a request that must be refused and checks that it left the uploads folder as it was. */
  async function refusedWithoutWriting(send: () => Promise<Response>): Promise<Response> {
    const before = storedFiles();
    const res = await send();
    expect(storedFiles()).toEqual(before);
    return res;
  }

  function expectError(res: Response, statusCode: number, error: RegExp): void {
    expect(res.status).toBe(statusCode);
    expect(res.body).toEqual({ statusCode, error: expect.stringMatching(error), request_id: res.headers['x-request-id'] });
  }

  describe('POST /api/upload', () => {
    it('stores a PNG under a fresh UUID name and serves back the same bytes as image/png', async () => {
      const res = await upload(PNG, 'logo.png').expect(200);
      expect(res.body.filename).toMatch(new RegExp(`^${UUID}\\.png$`));
      expect(res.body).toEqual({ url: `/api/uploads/${res.body.filename}`, filename: res.body.filename });

      const served = await t.http.get(res.body.url).expect(200);
      expect(served.headers['content-type']).toBe('image/png');
      expect(Buffer.compare(served.body, PNG)).toBe(0);
    });

    it('gives every upload of the same file a new name', async () => {
      const first = await upload(PNG, 'logo.png').expect(200);
      const second = await upload(PNG, 'logo.png').expect(200);
      expect(second.body.filename).not.toBe(first.body.filename);
    });

    it('serves a GIF as image/gif', async () => {
      const res = await upload(GIF, 'pixel.gif').expect(200);
      expect(res.body.filename).toMatch(new RegExp(`^${UUID}\\.gif$`));

      const served = await t.http.get(res.body.url).expect(200);
      expect(served.headers['content-type']).toBe('image/gif');
      expect(Buffer.compare(served.body, GIF)).toBe(0);
    });

    it('stores a camera-style .JPG under a lower-case extension and serves it as image/jpeg', async () => {
      const res = await upload(JPEG, 'IMG_0001.JPG').expect(200);
      expect(res.body.filename).toMatch(new RegExp(`^${UUID}\\.jpg$`));

      const served = await t.http.get(res.body.url).expect(200);
      expect(served.headers['content-type']).toBe('image/jpeg');
      expect(Buffer.compare(served.body, JPEG)).toBe(0);
    });

    it('refuses an HTML page named .png with 415 and writes nothing', async () => {
      const res = await refusedWithoutWriting(() => upload(HTML, 'innocent.png'));
      expectError(res, 415, /^Invalid file type/);
    });

    it('refuses a .txt file with 415, even when its bytes are a PNG', async () => {
      const text = await refusedWithoutWriting(() => upload(Buffer.from('just some notes\n'), 'notes.txt'));
      expectError(text, 415, /^Invalid file type/);

      const pngNamedTxt = await refusedWithoutWriting(() => upload(PNG, 'logo.txt'));
      expectError(pngNamedTxt, 415, /^Invalid file type/);
    });

    it('refuses a PNG renamed .gif with 415', async () => {
      const res = await refusedWithoutWriting(() => upload(PNG, 'logo.gif'));
      expectError(res, 415, /^Invalid file type/);
    });

    it('answers 400 "No file part" when the request has no file part', async () => {
      const formWithoutFile = await refusedWithoutWriting(() => t.http.post('/api/upload').field('name', 'logo'));
      expectError(formWithoutFile, 400, /^No file part$/);

      const noBody = await refusedWithoutWriting(() => t.http.post('/api/upload'));
      expectError(noBody, 400, /^No file part$/);
    });

    it(`refuses a file over UPLOAD_MAX_BYTES (${UPLOAD_MAX_BYTES}) with 413 and writes nothing`, async () => {
      const tooLarge = Buffer.concat([PNG_SIGNATURE, Buffer.alloc(70 * 1024 - PNG_SIGNATURE.length, 1)]);
      const res = await refusedWithoutWriting(() => upload(tooLarge, 'huge.png'));
      expectError(res, 413, /large/i);
    });

    it('accepts a file just under UPLOAD_MAX_BYTES', async () => {
      const justUnder = Buffer.concat([PNG_SIGNATURE, Buffer.alloc(UPLOAD_MAX_BYTES - 1024, 1)]);
      const res = await upload(justUnder, 'big.png').expect(200);

      const served = await t.http.get(res.body.url).expect(200);
      expect(Buffer.compare(served.body, justUnder)).toBe(0);
    });
  });

  describe('GET /api/uploads/:filename', () => {
    it.each([
      ['an encoded ../../ path', '..%2f..%2finfini.db'],
      ['an encoded ../ with encoded dots', '%2e%2e%2finfini.db'],
      ['a backslash traversal', '..%5cinfini.db'],
      ['a well-formed UUID name that was never uploaded', `${randomUUID()}.png`],
      ['a name with an allowed extension that is not a UUID', 'logo.png'],
    ])('answers 404 for %s and never serves another file', async (_case, name) => {
      const res = await t.http.get(`/api/uploads/${name}`);
      // The exact error body: in particular not the SQLite database next to the uploads folder.
      expectError(res, 404, /^File not found$/);
    });

    it('does not serve files placed in the uploads folder under names the server never hands out', async () => {
      const page = `${randomUUID()}.html`;
      mkdirSync(uploadDir, { recursive: true });
      writeFileSync(join(uploadDir, 'planted.png'), PNG);
      writeFileSync(join(uploadDir, page), HTML);

      expectError(await t.http.get('/api/uploads/planted.png'), 404, /^File not found$/);
      expectError(await t.http.get(`/api/uploads/${page}`), 404, /^File not found$/);
    });
  });
});
