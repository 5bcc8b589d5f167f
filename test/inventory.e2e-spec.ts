import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInThisContext } from 'node:vm';
import type { Test } from 'supertest';
import { placeholder, startTestApp, TestApp } from './helpers/test-app';

const LOGO = readFileSync(join(__dirname, 'fixtures/logo.png'));
const HTML = readFileSync(join(__dirname, 'fixtures/page.html'));
const UPLOAD_URL = /^\/api\/uploads\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.png$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UNKNOWN_ID = 987654;

interface Brand {
  id: number;
  name: string;
  logo: string | null;
  sort_order: number;
  created_at: string;
}

interface Card {
  id: number;
  brand_id: number;
  name: string;
  model: string;
  memory: string | null;
  fp8_perf: string | null;
  int8_perf: string | null;
  bf16_perf: string | null;
  fp16_perf: string | null;
  fp32_perf: string | null;
  interconnect_bandwidth: string | null;
  created_at: string;
}

interface Model {
  id: number;
  name: string;
  logo: string | null;
  parameters: string | null;
  created_at: string;
}

interface ServerRow {
  id: number;
  brand_id: number | null;
  model_id: number | null;
}

describe('inventory: brands, accelerator cards, models, stats', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  // ---- API helpers ----

  async function createBrand(body: Record<string, unknown>): Promise<number> {
    const res = await t.http.post('/api/brands').send(body).expect(201);
    expect(res.body).toEqual({ id: expect.any(Number), message: 'Brand created successfully' });
    return res.body.id;
  }

  async function createCard(brandId: number, body: Record<string, unknown>): Promise<number> {
    const res = await t.http.post(`/api/brands/${brandId}/accelerators`).send(body).expect(201);
    expect(res.body).toEqual({ id: expect.any(Number), message: 'Accelerator created successfully' });
    return res.body.id;
  }

  async function createModel(body: Record<string, unknown>): Promise<number> {
    const res = await t.http.post('/api/models').send(body).expect(201);
    expect(res.body).toEqual({ id: expect.any(Number), message: 'Model created successfully' });
    return res.body.id;
  }

  async function brands(): Promise<Brand[]> {
    return (await t.http.get('/api/brands').expect(200)).body;
  }

  async function brand(id: number): Promise<Brand | undefined> {
    return (await brands()).find((candidate) => candidate.id === id);
  }

  async function cards(brandId: number): Promise<Card[]> {
    return (await t.http.get(`/api/brands/${brandId}/accelerators`).expect(200)).body;
  }

  async function models(): Promise<Model[]> {
    return (await t.http.get('/api/models').expect(200)).body;
  }

  async function model(id: number): Promise<Model | undefined> {
    return (await models()).find((candidate) => candidate.id === id);
  }

  /** Fetches a stored logo and checks it is exactly the fixture PNG. */
  async function expectServesLogo(url: string | null): Promise<void> {
    expect(url).toMatch(UPLOAD_URL);
    const res = await t.http.get(url!).expect(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(Buffer.compare(res.body, LOGO)).toBe(0);
  }

  // ---- SQL helpers for tables whose modules do not exist yet ----

  const params = (count: number) => Array.from({ length: count }, (_, index) => placeholder(index + 1)).join(', ');

  async function insertServer(name: string, fields: { brand_id?: number | null; model_id?: number | null; status?: string } = {}): Promise<number> {
    await t.sql(`INSERT INTO servers (name, host_ip, username, brand_id, model_id, status) VALUES (${params(6)})`, [
      name,
      '127.0.0.1',
      'root',
      fields.brand_id ?? null,
      fields.model_id ?? null,
      fields.status ?? 'offline',
    ]);
    const [row] = await t.sql<{ id: number }>(`SELECT id FROM servers WHERE name = ${placeholder(1)}`, [name]);
    return row.id;
  }

  async function server(id: number): Promise<ServerRow | undefined> {
    const [row] = await t.sql<ServerRow>(`SELECT id, brand_id, model_id FROM servers WHERE id = ${placeholder(1)}`, [id]);
    return row;
  }

  async function insertService(name: string, modelId: number): Promise<void> {
    await t.sql(`INSERT INTO services (name, model_id) VALUES (${params(2)})`, [name, modelId]);
  }

  async function setCreatedAt(table: 'brands' | 'accelerator_cards', id: number, timestamp: string): Promise<void> {
    await t.sql(`UPDATE ${table} SET created_at = ${placeholder(1)} WHERE id = ${placeholder(2)}`, [timestamp, id]);
  }

  async function countCards(brandId: number): Promise<number> {
    const query = `SELECT COUNT(*) AS n FROM accelerator_cards WHERE brand_id = ${placeholder(1)}`;
    // PostgreSQL answers COUNT(*) as a bigint string.
    const [row] = await t.sql<{ n: number | string }>(query, [brandId]);
    return Number(row.n);
  }

  // ---- The error contract ----

  const uploadDir = () => join(t.dataDir, 'uploads');
  const storedUploads = () => (existsSync(uploadDir()) ? readdirSync(uploadDir()).sort() : []);

  /** Everything the inventory API shows, and the stored upload files. */
  async function inventory() {
    const allBrands = await brands();
    const cardsByBrand = await Promise.all(allBrands.map((entry) => cards(entry.id)));
    return { brands: allBrands, cardsByBrand, models: await models(), uploads: storedUploads() };
  }

  /** Checks that `send` gets exactly `body` (and the request's id) with status `statusCode`, and changes nothing a GET can see. */
  async function expectRefusal(send: () => Test, statusCode: number, body: Record<string, unknown>): Promise<void> {
    const before = await inventory();
    const res = await send();
    expect(res.status).toBe(statusCode);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ ...body, request_id: res.headers['x-request-id'] });
    expect(await inventory()).toEqual(before);
  }

  /** A refusal whose body is exactly the contract's `{statusCode, error}` with `error` matching. */
  function expectRefused(send: () => Test, statusCode: number, error: RegExp): Promise<void> {
    return expectRefusal(send, statusCode, { statusCode, error: expect.stringMatching(error) });
  }

  /**
   * A validation refusal: 400 whose `error` mentions every bad field and whose `details` name exactly
   * `fields` (paths such as `orders.0.id`), each with its messages.
   */
  function expectInvalid(send: () => Test, ...fields: string[]): Promise<void> {
    const mentioned = fields.map((field) => field.split('.').pop()).join('.*');
    return expectRefusal(send, 400, {
      statusCode: 400,
      error: expect.stringMatching(new RegExp(mentioned)),
      details: fields.map((field) => ({ field, messages: [expect.any(String)] })),
    });
  }

  type Method = 'get' | 'post' | 'put' | 'delete';

  /** A request for the refusal checks, with `body` as JSON when given. */
  const json = (method: Method, path: string, body?: object) => () => {
    const req = t.http[method](path);
    return body ? req.send(body) : req;
  };

  /** A request for the refusal checks, as a multipart form like the admin UI sends for brands and models. */
  const form = (method: 'post' | 'put', path: string, fields: Record<string, string>) => () =>
    Object.entries(fields).reduce((req, [name, value]) => req.field(name, value), t.http[method](path));

  describe('brands', () => {
    it('creates a brand from JSON and lists it with every field', async () => {
      const id = await createBrand({ name: '  NVIDIA  ', logo: 'https://example.com/nvidia.png' });

      expect(await brand(id)).toEqual({
        id,
        name: 'NVIDIA',
        logo: 'https://example.com/nvidia.png',
        sort_order: 0,
        created_at: expect.stringMatching(ISO_UTC),
      });
    });

    it('accepts "" and null for the optional logo and stores them as given', async () => {
      const emptyLogo = await createBrand({ name: 'Empty logo', logo: '' });
      const nullLogo = await createBrand({ name: 'Null logo', logo: null });
      const noLogo = await createBrand({ name: 'No logo' });

      expect((await brand(emptyLogo))?.logo).toBe('');
      expect((await brand(nullLogo))?.logo).toBeNull();
      expect((await brand(noLogo))?.logo).toBeNull();
    });

    it('creates a brand from a multipart form; logo_file wins over the logo field and its URL serves its bytes', async () => {
      const res = await t.http
        .post('/api/brands')
        .field('name', 'Huawei')
        .field('logo', 'https://example.com/ignored.png')
        .attach('logo_file', LOGO, 'ascend.png')
        .expect(201);

      const created = await brand(res.body.id);
      expect(created?.name).toBe('Huawei');
      await expectServesLogo(created!.logo);
    });

    it('creates a brand from a multipart form without a file, keeping the logo text field', async () => {
      const res = await t.http.post('/api/brands').field('name', 'Cambricon').field('logo', '').expect(201);

      expect(await brand(res.body.id)).toMatchObject({ name: 'Cambricon', logo: '' });
    });

    it('PUT from JSON changes only the fields sent: logo left out keeps its value', async () => {
      const id = await createBrand({ name: 'Intel', logo: 'https://example.com/intel.png' });
      const original = (await brand(id))!;

      const res = await t.http.put(`/api/brands/${id}`).send({ name: 'Intel Gaudi' }).expect(200);
      expect(res.body).toEqual({ message: 'Brand updated successfully' });
      expect(await brand(id)).toEqual({ ...original, name: 'Intel Gaudi' });

      await t.http.put(`/api/brands/${id}`).send({}).expect(200);
      expect(await brand(id)).toEqual({ ...original, name: 'Intel Gaudi' });

      await t.http.put(`/api/brands/${id}`).send({ logo: null }).expect(200);
      expect(await brand(id)).toEqual({ ...original, name: 'Intel Gaudi', logo: null });
    });

    it('PUT from a multipart form replaces the logo with logo_file and keeps the name when it is left out', async () => {
      const id = await createBrand({ name: 'AMD', logo: 'https://example.com/amd.png' });
      const original = (await brand(id))!;

      await t.http.put(`/api/brands/${id}`).attach('logo_file', LOGO, 'instinct.png').expect(200);
      const withLogo = (await brand(id))!;
      expect(withLogo).toEqual({ ...original, logo: expect.stringMatching(UPLOAD_URL) });
      await expectServesLogo(withLogo.logo);
    });

    it('ignores a logo_file that is not a file: an empty text part of a form, or a JSON field', async () => {
      const id = await createBrand({ name: 'Biren', logo: 'https://example.com/biren.png' });
      await t.http.put(`/api/brands/${id}`).field('name', 'Biren').field('logo', 'https://example.com/br100.png').field('logo_file', '').expect(200);
      await t.http.put(`/api/brands/${id}`).send({ name: 'Biren BR100', logo_file: null }).expect(200);
      expect(await brand(id)).toMatchObject({ name: 'Biren BR100', logo: 'https://example.com/br100.png' });
    });

    // The admin UI's form leaves out a logo it has cleared; the old backend stored that as NULL.
    it('PUT from a multipart form without logo clears the logo, as the old backend did', async () => {
      const id = await createBrand({ name: 'Moore Threads', logo: 'https://example.com/mthreads.png' });
      const original = (await brand(id))!;

      const res = await t.http.put(`/api/brands/${id}`).field('name', 'Moore Threads MTT').expect(200);
      expect(res.body).toEqual({ message: 'Brand updated successfully' });
      expect(await brand(id)).toEqual({ ...original, name: 'Moore Threads MTT', logo: null });

      await t.http.put(`/api/brands/${id}`).field('logo', 'https://example.com/mtt.png').expect(200);
      expect(await brand(id)).toEqual({ ...original, name: 'Moore Threads MTT', logo: 'https://example.com/mtt.png' });
    });

    it('reorder applies the new positions and the list follows them', async () => {
      const first = await createBrand({ name: 'Reorder first' });
      const second = await createBrand({ name: 'Reorder second' });

      const res = await t.http
        .post('/api/brands/reorder')
        .send({
          orders: [
            { id: first, sort_order: 7 },
            { id: second, sort_order: 6 },
          ],
        })
        .expect(200);

      expect(res.body).toEqual({ message: 'Brands reordered successfully' });
      const list = await brands();
      expect(list.filter((entry) => [first, second].includes(entry.id))).toEqual([
        expect.objectContaining({ id: second, sort_order: 6 }),
        expect.objectContaining({ id: first, sort_order: 7 }),
      ]);
    });

    it('lists by sort_order ascending, then created_at newest first, then the newer id first', async () => {
      const olderTied = await createBrand({ name: 'Order: older id, tied time' });
      const front = await createBrand({ name: 'Order: position 0' });
      const newest = await createBrand({ name: 'Order: newest time' });
      const newerTied = await createBrand({ name: 'Order: newer id, tied time' });
      await t.http
        .post('/api/brands/reorder')
        .send({
          orders: [
            { id: olderTied, sort_order: 1 },
            { id: front, sort_order: 0 },
            { id: newest, sort_order: 1 },
            { id: newerTied, sort_order: 1 },
          ],
        })
        .expect(200);
      await setCreatedAt('brands', olderTied, '2025-01-01 00:00:00');
      await setCreatedAt('brands', newest, '2025-06-01 00:00:00');
      await setCreatedAt('brands', newerTied, '2025-01-01 00:00:00');

      const ours = [olderTied, front, newest, newerTied];
      const ordered = (await brands()).filter((entry) => ours.includes(entry.id)).map((entry) => entry.id);
      expect(ordered).toEqual([front, newest, newerTied, olderTied]);
    });

    it('reorder naming an unknown brand is a 404 naming it, and no position changes', async () => {
      const id = await createBrand({ name: 'Reorder all or nothing' });

      const orders = [
        { id, sort_order: 42 },
        { id: UNKNOWN_ID, sort_order: 0 },
      ];

      await expectRefused(json('post', '/api/brands/reorder', { orders }), 404, new RegExp(`${UNKNOWN_ID}`));
    });

    it('reorder naming a brand twice is a 400 naming it, and no position changes', async () => {
      const id = await createBrand({ name: 'Reorder duplicate' });

      const orders = [
        { id, sort_order: 3 },
        { id, sort_order: 4 },
      ];

      await expectRefused(json('post', '/api/brands/reorder', { orders }), 400, new RegExp(`${id}`));
    });

    it('reorder with a missing, empty or malformed list is a 400 naming the field', async () => {
      const id = await createBrand({ name: 'Reorder invalid' });
      const reorder = (body: object) => json('post', '/api/brands/reorder', body);

      await expectInvalid(reorder({}), 'orders');
      await expectInvalid(reorder({ orders: [] }), 'orders');
      await expectInvalid(reorder({ orders: [{ id, sort_order: -1 }] }), 'orders.0.sort_order');
      await expectInvalid(reorder({ orders: [{ id: String(id), sort_order: 0 }] }), 'orders.0.id');
      await expectInvalid(reorder({ orders: [{ id, sort_order: 1, name: 'x' }] }), 'orders.0.name');
    });

    it('DELETE removes the brand with its cards; servers keep existing with brand_id and model_id null', async () => {
      const doomed = await createBrand({ name: 'Doomed brand' });
      const doomedCard = await createCard(doomed, { name: 'Doomed card', model: 'X1' });
      await createCard(doomed, { name: 'Doomed card 2', model: 'X2' });
      const kept = await createBrand({ name: 'Kept brand' });
      const keptCard = await createCard(kept, { name: 'Kept card', model: 'K1' });
      const orphaned = await insertServer('server on doomed brand', { brand_id: doomed, model_id: doomedCard });
      const untouched = await insertServer('server on kept brand', { brand_id: kept, model_id: keptCard });

      const res = await t.http.delete(`/api/brands/${doomed}`).expect(200);

      expect(res.body).toEqual({ message: 'Brand deleted successfully' });
      expect(await brand(doomed)).toBeUndefined();
      expect(await countCards(doomed)).toBe(0);
      await t.http.get(`/api/brands/${doomed}/accelerators`).expect(404);
      expect(await server(orphaned)).toEqual({ id: orphaned, brand_id: null, model_id: null });
      expect(await server(untouched)).toEqual({ id: untouched, brand_id: kept, model_id: keptCard });
      expect((await cards(kept)).map((card) => card.id)).toEqual([keptCard]);
    });
  });

  describe('accelerator cards', () => {
    const H100 = {
      name: 'H100',
      model: 'SXM5',
      memory: '80GB',
      fp8_perf: '3958 TFLOPS',
      int8_perf: '3958 TOPS',
      bf16_perf: '1979 TFLOPS',
      fp16_perf: '1979 TFLOPS',
      fp32_perf: '67 TFLOPS',
      interconnect_bandwidth: '900 GB/s',
    };

    it('creates cards under a brand and lists them with every field, newest first', async () => {
      const brandId = await createBrand({ name: 'Cards brand' });
      const h100 = await createCard(brandId, H100);
      const a100 = await createCard(brandId, { name: 'A100', model: 'PCIe' });

      expect(await cards(brandId)).toEqual([
        {
          id: a100,
          brand_id: brandId,
          name: 'A100',
          model: 'PCIe',
          memory: null,
          fp8_perf: null,
          int8_perf: null,
          bf16_perf: null,
          fp16_perf: null,
          fp32_perf: null,
          interconnect_bandwidth: null,
          created_at: expect.stringMatching(ISO_UTC),
        },
        { id: h100, brand_id: brandId, ...H100, created_at: expect.stringMatching(ISO_UTC) },
      ]);
    });

    it('orders the list by created_at, not by id', async () => {
      const brandId = await createBrand({ name: 'Cards order brand' });
      const older = await createCard(brandId, { name: 'Older', model: 'O' });
      const newer = await createCard(brandId, { name: 'Newer', model: 'N' });
      await setCreatedAt('accelerator_cards', older, '2099-01-01 00:00:00');

      expect((await cards(brandId)).map((card) => card.id)).toEqual([older, newer]);
    });

    it('list and create under an unknown brand are a 404', async () => {
      await expectRefused(json('get', `/api/brands/${UNKNOWN_ID}/accelerators`), 404, /not found/i);
      await expectRefused(json('post', `/api/brands/${UNKNOWN_ID}/accelerators`, H100), 404, /not found/i);
      expect(await countCards(UNKNOWN_ID)).toBe(0);
    });

    it('PUT accepts the card as the admin UI sends it back ({...card}) and ignores its read-only fields', async () => {
      const brandId = await createBrand({ name: 'Edited cards brand' });
      const otherBrand = await createBrand({ name: 'Other cards brand' });
      const id = await createCard(brandId, H100);
      const [card] = await cards(brandId);

      const res = await t.http
        .put(`/api/accelerators/${id}`)
        .send({ ...card, memory: '94GB', id: id + 1000, brand_id: otherBrand, created_at: '2000-01-01T00:00:00.000Z' })
        .expect(200);

      expect(res.body).toEqual({ message: 'Accelerator updated successfully' });
      expect(await cards(brandId)).toEqual([{ ...card, memory: '94GB' }]);
      expect(await cards(otherBrand)).toEqual([]);
    });

    it('PUT changes only the fields sent; "" and null are accepted for optional text', async () => {
      const brandId = await createBrand({ name: 'Partial cards brand' });
      const id = await createCard(brandId, H100);
      const [card] = await cards(brandId);

      await t.http.put(`/api/accelerators/${id}`).send({ memory: null, fp8_perf: '' }).expect(200);

      expect(await cards(brandId)).toEqual([{ ...card, memory: null, fp8_perf: '' }]);
    });

    it('PUT with an unknown field is a 400 naming it in details', async () => {
      const brandId = await createBrand({ name: 'Unknown field brand' });
      const id = await createCard(brandId, H100);

      await expectInvalid(json('put', `/api/accelerators/${id}`, { memory: '1GB', foo: 'bar' }), 'foo');
    });

    it('POST without name and model is a 400 naming both', async () => {
      const brandId = await createBrand({ name: 'Required fields brand' });

      await expectInvalid(json('post', `/api/brands/${brandId}/accelerators`, { memory: '80GB' }), 'name', 'model');
    });

    it('DELETE removes the card; servers that used it keep their brand and get model_id null', async () => {
      const brandId = await createBrand({ name: 'Deleted card brand' });
      const id = await createCard(brandId, H100);
      const serverId = await insertServer('server with deleted card', { brand_id: brandId, model_id: id });

      const res = await t.http.delete(`/api/accelerators/${id}`).expect(200);

      expect(res.body).toEqual({ message: 'Accelerator deleted successfully' });
      expect(await cards(brandId)).toEqual([]);
      expect(await server(serverId)).toEqual({ id: serverId, brand_id: brandId, model_id: null });
    });
  });

  describe('models', () => {
    it('creates models from JSON and lists them with every field, newest first', async () => {
      const qwen = await createModel({ name: 'Qwen2.5-7B', parameters: '7B', logo: 'https://example.com/qwen.png' });
      const jiuge = await createModel({ name: 'jiuge', parameters: '' });

      const list = await models();
      expect(list.filter((entry) => [qwen, jiuge].includes(entry.id))).toEqual([
        { id: jiuge, name: 'jiuge', logo: null, parameters: '', created_at: expect.stringMatching(ISO_UTC) },
        {
          id: qwen,
          name: 'Qwen2.5-7B',
          logo: 'https://example.com/qwen.png',
          parameters: '7B',
          created_at: expect.stringMatching(ISO_UTC),
        },
      ]);
    });

    it('creates a model from a multipart form, storing logo_file and serving its bytes', async () => {
      const res = await t.http
        .post('/api/models')
        .field('name', 'DeepSeek-R1')
        .field('parameters', '671B')
        .attach('logo_file', LOGO, 'deepseek.png')
        .expect(201);

      const created = await model(res.body.id);
      expect(created).toMatchObject({ name: 'DeepSeek-R1', parameters: '671B' });
      await expectServesLogo(created!.logo);
    });

    it('PUT from JSON changes only the fields sent: logo and parameters left out keep their values', async () => {
      const id = await createModel({ name: 'Llama', parameters: '8B', logo: 'https://example.com/llama.png' });
      const original = (await model(id))!;

      const res = await t.http.put(`/api/models/${id}`).send({ parameters: '70B' }).expect(200);
      expect(res.body).toEqual({ message: 'Model updated successfully' });
      expect(await model(id)).toEqual({ ...original, parameters: '70B' });

      await t.http.put(`/api/models/${id}`).send({ name: 'Llama 3' }).expect(200);
      expect(await model(id)).toEqual({ ...original, name: 'Llama 3', parameters: '70B' });

      await t.http.put(`/api/models/${id}`).send({ logo: null, parameters: null }).expect(200);
      expect(await model(id)).toEqual({ ...original, name: 'Llama 3', parameters: null, logo: null });
    });

    // The admin UI's form leaves out the fields it has emptied; the old backend stored those as NULL.
    it('PUT from a multipart form without parameters or logo clears them, and logo_file sets the logo', async () => {
      const id = await createModel({ name: 'Qwen', parameters: '7B', logo: 'https://example.com/qwen.png' });
      const original = (await model(id))!;

      await t.http.put(`/api/models/${id}`).field('name', 'Qwen 2').field('logo', 'https://example.com/qwen2.png').expect(200);
      expect(await model(id)).toEqual({ ...original, name: 'Qwen 2', logo: 'https://example.com/qwen2.png', parameters: null });

      await t.http.put(`/api/models/${id}`).field('parameters', '72B').attach('logo_file', LOGO, 'qwen.png').expect(200);
      const withLogo = (await model(id))!;
      expect(withLogo).toEqual({ ...original, name: 'Qwen 2', parameters: '72B', logo: expect.stringMatching(UPLOAD_URL) });
      await expectServesLogo(withLogo.logo);

      await t.http.put(`/api/models/${id}`).field('parameters', '72B').expect(200);
      expect(await model(id)).toEqual({ ...withLogo, logo: null });
    });

    it('DELETE removes the model', async () => {
      const id = await createModel({ name: 'Short-lived' });

      const res = await t.http.delete(`/api/models/${id}`).expect(200);

      expect(res.body).toEqual({ message: 'Model deleted successfully' });
      expect(await model(id)).toBeUndefined();
    });

    it('DELETE is a 409 naming the service while one uses the model, and works once it is gone', async () => {
      const id = await createModel({ name: 'In use' });
      await insertService('chat-frontend', id);

      await expectRefused(json('delete', `/api/models/${id}`), 409, /chat-frontend/);

      await t.sql(`DELETE FROM services WHERE model_id = ${placeholder(1)}`, [id]);
      await t.http.delete(`/api/models/${id}`).expect(200);
      expect(await model(id)).toBeUndefined();
    });
  });

  describe('stats', () => {
    const stats = async () => (await t.http.get('/api/stats').expect(200)).body;

    it('counts servers, online servers and services from the tables', async () => {
      await t.sql('DELETE FROM services');
      await t.sql('DELETE FROM servers');
      expect(await stats()).toEqual({ server_count: 0, service_count: 0, online_server_count: 0 });

      await insertServer('stats online 1', { status: 'online' });
      await insertServer('stats online 2', { status: 'online' });
      await insertServer('stats offline', { status: 'offline' });
      const modelId = await createModel({ name: 'Stats model' });
      await insertService('stats service 1', modelId);
      await insertService('stats service 2', modelId);

      expect(await stats()).toEqual({ server_count: 3, service_count: 2, online_server_count: 2 });
    });
  });

  describe('created_at', () => {
    /**
     * Runs `body` with the process in another time zone. Jest gives each test file a copy of
     * process.env, so TZ is set on the host process too: that is what moves Node's clock.
     */
    async function inTimeZone(timeZone: string, body: () => Promise<void>): Promise<void> {
      const host = runInThisContext('process') as NodeJS.Process;
      const saved = [process.env.TZ, host.env.TZ];
      process.env.TZ = host.env.TZ = timeZone;
      try {
        await body();
      } finally {
        [process.env, host.env].forEach((env, index) => {
          if (saved[index] === undefined) delete env.TZ;
          else env.TZ = saved[index];
        });
      }
    }

    it('is an ISO-8601 UTC string within a minute of now, whatever the process time zone', async () => {
      await inTimeZone('Asia/Shanghai', async () => {
        expect(new Date(0).getTimezoneOffset()).toBe(-480);
        const brandId = await createBrand({ name: 'Shanghai brand' });
        await createCard(brandId, { name: 'Shanghai card', model: 'S' });
        const modelId = await createModel({ name: 'Shanghai model' });

        const [card] = await cards(brandId);
        for (const createdAt of [(await brand(brandId))!.created_at, card.created_at, (await model(modelId))!.created_at]) {
          expect(createdAt).toMatch(ISO_UTC);
          expect(Math.abs(Date.parse(createdAt) - Date.now())).toBeLessThan(60_000);
        }
      });
    });
  });

  describe('error contract', () => {
    let brandId: number;
    let cardId: number;
    let modelId: number;

    beforeAll(async () => {
      brandId = await createBrand({ name: 'Error contract brand', logo: 'https://example.com/e.png' });
      cardId = await createCard(brandId, { name: 'Error contract card', model: 'E1', memory: '16GB' });
      modelId = await createModel({ name: 'Error contract model', parameters: '1B' });
    });

    /** Every route that takes an id, with a body that would be valid. */
    const ID_ROUTES: [Method, (id: string) => string, object?][] = [
      ['put', (id) => `/api/brands/${id}`, { name: 'x' }],
      ['delete', (id) => `/api/brands/${id}`],
      ['get', (id) => `/api/brands/${id}/accelerators`],
      ['post', (id) => `/api/brands/${id}/accelerators`, { name: 'x', model: 'y' }],
      ['put', (id) => `/api/accelerators/${id}`, { name: 'x' }],
      ['delete', (id) => `/api/accelerators/${id}`],
      ['put', (id) => `/api/models/${id}`, { name: 'x' }],
      ['delete', (id) => `/api/models/${id}`],
    ];
    const ID_ROUTE_CASES = ID_ROUTES.map(([method, path, body]) => [`${method.toUpperCase()} ${path(':id')}`, method, path, body] as const);

    it.each(ID_ROUTE_CASES)('%s: an unknown id is a 404', async (_name, method, path, body) => {
      await expectRefused(json(method, path(String(UNKNOWN_ID)), body), 404, /not found/i);
    });

    it.each(ID_ROUTE_CASES)('%s: a non-numeric id is a 400 and an id too large for the database is a 404', async (_name, method, path, body) => {
      for (const id of ['abc', '1.5', '-1', '1e3']) {
        await expectRefused(json(method, path(id), body), 400, /Invalid id/);
      }
      await expectRefused(json(method, path('99999999999'), body), 404, /99999999999/);
    });

    /** A route that takes a body; the path is resolved once the fixture rows exist. */
    type BodyRoute = [name: string, method: 'post' | 'put', path: () => string];
    const JSON_ROUTES: BodyRoute[] = [
      ['POST /api/brands', 'post', () => '/api/brands'],
      ['PUT /api/brands/:id', 'put', () => `/api/brands/${brandId}`],
      ['POST /api/brands/reorder', 'post', () => '/api/brands/reorder'],
      ['POST /api/brands/:id/accelerators', 'post', () => `/api/brands/${brandId}/accelerators`],
      ['PUT /api/accelerators/:id', 'put', () => `/api/accelerators/${cardId}`],
      ['POST /api/models', 'post', () => '/api/models'],
      ['PUT /api/models/:id', 'put', () => `/api/models/${modelId}`],
    ];
    const LOGO_ROUTES: BodyRoute[] = [
      ['POST /api/brands', 'post', () => '/api/brands'],
      ['PUT /api/brands/:id', 'put', () => `/api/brands/${brandId}`],
      ['POST /api/models', 'post', () => '/api/models'],
      ['PUT /api/models/:id', 'put', () => `/api/models/${modelId}`],
    ];

    it.each(JSON_ROUTES)('%s: malformed JSON is a 400', async (_name, method, path) => {
      for (const text of ['{"name":', "{name: 'x'}", '{"name": "x",}']) {
        await expectRefused(() => t.http[method](path()).set('Content-Type', 'application/json').send(text), 400, /JSON/);
      }
    });

    it('a name longer than 255 characters is a 400 naming it; 255 characters are accepted', async () => {
      const tooLong = 'n'.repeat(256);
      await expectInvalid(json('post', '/api/brands', { name: tooLong }), 'name');
      await expectInvalid(json('put', `/api/brands/${brandId}`, { name: tooLong }), 'name');
      await expectInvalid(form('post', '/api/brands', { name: tooLong }), 'name');
      await expectInvalid(json('post', `/api/brands/${brandId}/accelerators`, { name: tooLong, model: 'm' }), 'name');
      await expectInvalid(json('put', `/api/accelerators/${cardId}`, { name: tooLong }), 'name');
      await expectInvalid(json('post', '/api/models', { name: tooLong }), 'name');
      await expectInvalid(json('put', `/api/models/${modelId}`, { name: tooLong }), 'name');
      await expectInvalid(json('put', `/api/accelerators/${cardId}`, { memory: 'm'.repeat(256) }), 'memory');

      const longest = 'n'.repeat(255);
      expect((await brand(await createBrand({ name: longest })))?.name).toBe(longest);
    });

    it('a NUL character in any text field is a 400 naming the field', async () => {
      const nul = 'abc\u0000def';
      await expectInvalid(json('post', '/api/brands', { name: nul }), 'name');
      await expectInvalid(json('post', '/api/brands', { name: 'ok', logo: nul }), 'logo');
      await expectInvalid(form('post', '/api/brands', { name: nul }), 'name');
      await expectInvalid(json('put', `/api/brands/${brandId}`, { logo: nul }), 'logo');
      await expectInvalid(json('post', `/api/brands/${brandId}/accelerators`, { name: 'ok', model: nul }), 'model');
      await expectInvalid(json('put', `/api/accelerators/${cardId}`, { interconnect_bandwidth: nul }), 'interconnect_bandwidth');
      await expectInvalid(json('post', '/api/models', { name: 'ok', parameters: nul }), 'parameters');
      await expectInvalid(form('put', `/api/models/${modelId}`, { name: nul }), 'name');
    });

    it('wrong types are a 400 naming each bad field', async () => {
      await expectInvalid(json('post', '/api/brands', { name: 123 }), 'name');
      await expectInvalid(json('post', '/api/brands', { name: 'ok', logo: 5 }), 'logo');
      await expectInvalid(json('put', `/api/brands/${brandId}`, { name: ['a'], logo: {} }), 'name', 'logo');
      await expectInvalid(json('post', `/api/brands/${brandId}/accelerators`, { name: 'ok', model: 'ok', memory: 80 }), 'memory');
      await expectInvalid(json('put', `/api/accelerators/${cardId}`, { fp16_perf: true }), 'fp16_perf');
      await expectInvalid(json('post', '/api/models', { name: 'ok', parameters: 7 }), 'parameters');
      await expectInvalid(json('put', `/api/models/${modelId}`, { name: { en: 'x' } }), 'name');
    });

    it('a blank, missing or null name is a 400 naming it', async () => {
      await expectInvalid(json('post', '/api/brands', {}), 'name');
      await expectInvalid(json('post', '/api/brands', { name: '   ' }), 'name');
      await expectInvalid(json('post', '/api/brands', { name: null }), 'name');
      await expectInvalid(json('put', `/api/brands/${brandId}`, { name: '' }), 'name');
      await expectInvalid(json('put', `/api/brands/${brandId}`, { name: null }), 'name');
      await expectInvalid(json('put', `/api/accelerators/${cardId}`, { model: null }), 'model');
      await expectInvalid(json('post', '/api/models', { parameters: '7B' }), 'name');
      await expectInvalid(json('put', `/api/models/${modelId}`, { name: ' ' }), 'name');
    });

    it('an unknown field is a 400 naming it, in JSON and in multipart forms', async () => {
      await expectInvalid(json('post', '/api/brands', { name: 'ok', foo: 1 }), 'foo');
      await expectInvalid(form('post', '/api/brands', { name: 'ok', foo: 'x' }), 'foo');
      await expectInvalid(json('post', `/api/brands/${brandId}/accelerators`, { name: 'ok', model: 'ok', foo: 1 }), 'foo');
      await expectInvalid(json('post', '/api/models', { name: 'ok', foo: 1 }), 'foo');
      await expectInvalid(form('put', `/api/models/${modelId}`, { foo: 'x' }), 'foo');
    });

    it.each(LOGO_ROUTES)('%s: a logo_file that is not an image is a 415 and nothing is stored', async (_name, method, path) => {
      const withFakeLogo = () => t.http[method](path()).field('name', 'With a fake logo').attach('logo_file', HTML, 'logo.png');
      await expectRefused(withFakeLogo, 415, /^Invalid file type/);
    });

    it('a logo_file over the upload limit is a 413 and nothing is stored', async () => {
      const huge = Buffer.concat([LOGO, Buffer.alloc(6 * 1024 * 1024)]);
      const newBrand = () => t.http.post('/api/brands').field('name', 'Huge logo').attach('logo_file', huge, 'huge.png');
      const modelUpdate = () => t.http.put(`/api/models/${modelId}`).attach('logo_file', huge, 'huge.png');
      await expectRefused(newBrand, 413, /large/i);
      await expectRefused(modelUpdate, 413, /large/i);
    });
  });
});
