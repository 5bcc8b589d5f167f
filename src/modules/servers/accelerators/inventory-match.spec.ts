import { AcceleratorVendor } from './accelerator-metrics';
import { matchInventory } from './inventory-match';

type Brand = { id: number; name: string };
type Card = { id: number; brand_id: number; name: string };

const BRANDS: Brand[] = [
  { id: 1, name: 'NVIDIA' },
  { id: 2, name: '华为' },
  { id: 3, name: '寒武纪' },
  { id: 4, name: '海光' },
  { id: 5, name: 'AMD' },
  { id: 6, name: '沐曦' },
  { id: 7, name: '天数智芯' },
  { id: 8, name: '摩尔线程' },
  { id: 9, name: '昆仑芯' },
  { id: 10, name: '燧原' },
];

const CARDS: Card[] = [
  { id: 101, brand_id: 1, name: 'A10' },
  { id: 102, brand_id: 1, name: 'A100' },
  { id: 103, brand_id: 1, name: 'A100 80GB' },
  { id: 104, brand_id: 1, name: 'H100 80GB' },
  { id: 105, brand_id: 1, name: 'Tesla P100' },
  { id: 106, brand_id: 1, name: 'GeForce RTX 2060' },
  { id: 107, brand_id: 1, name: 'RTX A6000' },
  { id: 108, brand_id: 1, name: 'L40' },
  { id: 109, brand_id: 1, name: 'H20' },
  { id: 201, brand_id: 2, name: 'Ascend 910B' },
  { id: 202, brand_id: 2, name: '910B2' },
  { id: 203, brand_id: 2, name: 'Ascend 910' },
  { id: 204, brand_id: 2, name: '310P' },
  { id: 301, brand_id: 3, name: 'MLU370-X8' },
  { id: 302, brand_id: 3, name: 'MLU370-X4' },
  { id: 303, brand_id: 3, name: 'MLU220' },
  { id: 401, brand_id: 4, name: 'Z100' },
  { id: 402, brand_id: 4, name: 'K100-AI' },
  { id: 403, brand_id: 4, name: 'BW1000' },
  { id: 501, brand_id: 5, name: 'MI300X' },
  { id: 502, brand_id: 5, name: 'Instinct MI250' },
  { id: 601, brand_id: 6, name: 'C500' },
  { id: 602, brand_id: 6, name: 'C550' },
  { id: 701, brand_id: 7, name: 'BI-V150' },
  { id: 702, brand_id: 7, name: 'MR-V100' },
  { id: 801, brand_id: 8, name: 'MTT S4000' },
  { id: 802, brand_id: 8, name: 'S80' },
  { id: 901, brand_id: 9, name: 'P800' },
  { id: 902, brand_id: 9, name: 'R300' },
  { id: 1001, brand_id: 10, name: 'S60' },
  { id: 1002, brand_id: 10, name: 'L300' },
];

/** The names matchInventory picked, for compact tables. */
function names(vendor: string, name: string, brands: Brand[] = BRANDS, cards: Card[] = CARDS) {
  const result = matchInventory({ vendor: vendor as AcceleratorVendor, name }, brands, cards);
  return [result.brand?.name ?? null, result.accelerator_card?.name ?? null];
}

describe('matchInventory', () => {
  describe('finds the brand and card of every vendor from the name its tool prints', () => {
    it.each([
      ['nvidia', 'NVIDIA A100-SXM4-80GB', 'NVIDIA', 'A100 80GB'],
      ['nvidia', 'NVIDIA A100-SXM4-40GB', 'NVIDIA', 'A100'],
      ['nvidia', 'NVIDIA A100-PCIE-40GB', 'NVIDIA', 'A100'],
      ['nvidia', 'NVIDIA A10', 'NVIDIA', 'A10'],
      ['nvidia', 'NVIDIA H100 80GB HBM3', 'NVIDIA', 'H100 80GB'],
      ['nvidia', 'Tesla P100-PCIE-16GB', 'NVIDIA', 'Tesla P100'],
      ['nvidia', 'NVIDIA GeForce RTX 2060', 'NVIDIA', 'GeForce RTX 2060'],
      ['nvidia', 'NVIDIA RTX A6000', 'NVIDIA', 'RTX A6000'],
      ['nvidia', 'NVIDIA L40S', 'NVIDIA', 'L40'],
      ['nvidia', 'NVIDIA H200', 'NVIDIA', null],
      ['nvidia', 'NVIDIA H20', 'NVIDIA', 'H20'],
      ['huawei', '910B2C', '华为', '910B2'],
      ['huawei', '910B3', '华为', 'Ascend 910B'],
      ['huawei', '910B', '华为', 'Ascend 910B'],
      ['huawei', 'Ascend910', '华为', 'Ascend 910'],
      ['huawei', '910A', '华为', 'Ascend 910'],
      ['huawei', '310P3', '华为', '310P'],
      ['huawei', '310B4', '华为', null],
      ['cambricon', 'MLU370-X4', '寒武纪', 'MLU370-X4'],
      ['cambricon', 'MLU370-X8', '寒武纪', 'MLU370-X8'],
      ['cambricon', 'MLU220-M2', '寒武纪', 'MLU220'],
      ['cambricon', 'MLU290-M5', '寒武纪', null],
      ['hygon', 'Z100L', '海光', 'Z100'],
      ['hygon', 'K100_AI', '海光', 'K100-AI'],
      ['hygon', 'BW1000', '海光', 'BW1000'],
      ['hygon', 'BW101', '海光', null],
      ['amd', 'AMD Instinct MI300X', 'AMD', 'MI300X'],
      ['amd', 'AMD Instinct MI250X', 'AMD', 'Instinct MI250'],
      ['amd', 'Radeon RX 7900 XT', 'AMD', null],
      ['metax', 'MetaX C500', '沐曦', 'C500'],
      ['metax', 'MetaX C550', '沐曦', 'C550'],
      ['metax', 'MXC550', '沐曦', 'C550'],
      ['iluvatar', 'Iluvatar BI-V150', '天数智芯', 'BI-V150'],
      ['iluvatar', 'Iluvatar MR-V100 DUO', '天数智芯', 'MR-V100'],
      ['moorethreads', 'MTT S4000', '摩尔线程', 'MTT S4000'],
      ['moorethreads', 'MTT S80', '摩尔线程', 'S80'],
      ['moorethreads', 'MTT S5000', '摩尔线程', null],
      ['kunlunxin', 'P800', '昆仑芯', 'P800'],
      ['kunlunxin', 'P800 OAM', '昆仑芯', 'P800'],
      ['kunlunxin', 'R300', '昆仑芯', 'R300'],
      ['enflame', 'Enflame S60G', '燧原', 'S60'],
      ['enflame', 'S60', '燧原', 'S60'],
      ['enflame', 'Enflame L300', '燧原', 'L300'],
    ])('%s %j → %s / %s', (vendor, name, brand, card) => {
      expect(names(vendor, name)).toEqual([brand, card]);
    });
  });

  it('returns only the id and name of the brand and card it picked', () => {
    const brands = [{ id: 1, name: 'NVIDIA', logo: null, sort_order: 3 }];
    const cards = [{ id: 102, brand_id: 1, name: 'A100', model: 'A100', memory: '80GB' }];
    expect(matchInventory({ vendor: 'nvidia', name: 'NVIDIA A100-SXM4-80GB' }, brands, cards)).toEqual({
      brand: { id: 1, name: 'NVIDIA' },
      accelerator_card: { id: 102, name: 'A100' },
    });
  });

  describe('brand names in English or Chinese, whatever else they say', () => {
    it.each([
      ['nvidia', 'Nvidia Corporation'],
      ['nvidia', '英伟达'],
      ['huawei', 'Huawei Ascend'],
      ['huawei', 'HUAWEI'],
      ['huawei', '华为昇腾'],
      ['huawei', '昇腾'],
      ['huawei', 'Ascend'],
      ['cambricon', 'Cambricon'],
      ['cambricon', '寒武纪科技'],
      ['hygon', 'Hygon'],
      ['hygon', '海光信息'],
      ['amd', 'A.M.D.'],
      ['amd', '超威半导体'],
      ['metax', 'MetaX'],
      ['metax', '沐曦集成电路'],
      ['iluvatar', 'Iluvatar CoreX'],
      ['iluvatar', 'CoreX'],
      ['iluvatar', '天数'],
      ['moorethreads', 'Moore Threads'],
      ['moorethreads', 'Moore-Threads'],
      ['moorethreads', 'MThreads'],
      ['kunlunxin', 'KunlunXin'],
      ['kunlunxin', 'Kunlun'],
      ['kunlunxin', '昆仑芯（北京）科技'],
      ['kunlunxin', '昆仑'],
      ['enflame', 'Enflame'],
      ['enflame', '燧原科技'],
    ])('%s is brand %j', (vendor, brandName) => {
      const others = BRANDS.filter((brand) => names(vendor, '', [brand])[0] === null);
      expect(others.length).toBe(BRANDS.length - 1);
      const brands = [...others, { id: 99, name: brandName }];
      expect(matchInventory({ vendor: vendor as AcceleratorVendor, name: '' }, brands, []).brand).toEqual({ id: 99, name: brandName });
    });

    it.each([
      ['amd', 'Cambricon'],
      ['amd', 'Samsung'],
      ['nvidia', '华为'],
      ['huawei', 'NVIDIA'],
      ['kunlunxin', '海光'],
      ['iluvatar', '摩尔线程'],
    ])('%s is not brand %j', (vendor, brandName) => {
      expect(names(vendor, '', [{ id: 1, name: brandName }])[0]).toBeNull();
    });
  });

  describe('several matching brands', () => {
    it('prefers the brand whose name holds the longest alias', () => {
      const brands = [
        { id: 1, name: '海光信息' },
        { id: 2, name: 'Hygon' },
      ];
      expect(names('hygon', 'Z100L', brands, [])).toEqual(['Hygon', null]);
      expect(
        names(
          'huawei',
          '910B',
          [
            { id: 1, name: '昇腾' },
            { id: 2, name: 'Huawei Ascend' },
          ],
          [],
        )[0],
      ).toBe('Huawei Ascend');
      expect(
        names(
          'kunlunxin',
          'P800',
          [
            { id: 1, name: 'Kunlun' },
            { id: 2, name: 'KunlunXin' },
          ],
          [],
        )[0],
      ).toBe('KunlunXin');
    });

    it('breaks a tie by the lowest id, whatever the order', () => {
      const brands = [
        { id: 7, name: 'NVIDIA' },
        { id: 3, name: 'Nvidia Corp' },
      ];
      expect(matchInventory({ vendor: 'nvidia', name: '' }, brands, []).brand?.id).toBe(3);
      expect(matchInventory({ vendor: 'nvidia', name: '' }, [...brands].reverse(), []).brand?.id).toBe(3);
    });

    it("only looks at the chosen brand's cards", () => {
      const brands = [
        { id: 1, name: 'NVIDIA' },
        { id: 2, name: 'Kunlunxin' },
      ];
      const cards = [
        { id: 10, brand_id: 1, name: 'P800' },
        { id: 20, brand_id: 2, name: 'P800' },
      ];
      expect(matchInventory({ vendor: 'kunlunxin', name: 'P800' }, brands, cards).accelerator_card).toEqual({ id: 20, name: 'P800' });
      expect(matchInventory({ vendor: 'nvidia', name: 'P800' }, brands, cards).accelerator_card).toEqual({ id: 10, name: 'P800' });
      expect(matchInventory({ vendor: 'kunlunxin', name: 'P800' }, brands, [cards[0]]).accelerator_card).toBeNull();
    });
  });

  describe('the A10 / A100 trap', () => {
    const a10 = { id: 1, brand_id: 1, name: 'A10' };
    const a100 = { id: 2, brand_id: 1, name: 'A100' };
    const brands = [{ id: 1, name: 'NVIDIA' }];

    it.each([
      ['NVIDIA A100-SXM4-80GB', [a10, a100], 'A100'],
      ['NVIDIA A100-SXM4-80GB', [a100, a10], 'A100'],
      ['NVIDIA A100-SXM4-80GB', [a10], null],
      ['NVIDIA A10', [a10, a100], 'A10'],
      ['NVIDIA A10', [a100], null],
      ['NVIDIA A10G', [a10, a100], 'A10'],
    ])('%j among %j → %s', (name, cards, expected) => {
      expect(matchInventory({ vendor: 'nvidia', name }, brands, cards).accelerator_card?.name ?? null).toBe(expected);
    });
  });

  describe('model variants: the card name cut short', () => {
    const brands = [{ id: 1, name: '华为' }];
    const card = (id: number, name: string) => ({ id, brand_id: 1, name });

    it.each([
      ['910B2C', ['910B'], '910B'],
      ['910B2C', ['910'], '910'],
      ['910B2C', ['910', '910B'], '910B'],
      ['910B2C', ['910B', '910B2'], '910B2'],
      ['910B2C', ['910B2C', '910B', '910B2'], '910B2C'],
      ['910B', ['910B2C'], null],
      ['910', ['910B'], null],
      ['Ascend910', ['Ascend 910B'], null],
      ['Ascend910', ['910'], '910'],
      ['Ascend910', ['Ascend910'], 'Ascend910'],
      ['310P3', ['310'], '310'],
      ['310P3', ['31'], null],
      ['910ProB', ['910B'], null],
      ['910B2C', ['910C'], null],
    ])('%j among %j → %s', (name, cardNames, expected) => {
      const cards = cardNames.map((cardName, i) => card(i + 1, cardName));
      expect(matchInventory({ vendor: 'huawei', name }, brands, cards).accelerator_card?.name ?? null).toBe(expected);
    });

    it('prefers an exact match to a variant, even one with more tokens', () => {
      const cards = [
        { id: 1, brand_id: 1, name: 'A100 SXM' },
        { id: 2, brand_id: 1, name: 'A100' },
      ];
      expect(names('nvidia', 'NVIDIA A100-SXM4-80GB', [{ id: 1, name: 'NVIDIA' }], cards)[1]).toBe('A100');
      expect(names('nvidia', 'NVIDIA A100-SXM4-80GB', [{ id: 1, name: 'NVIDIA' }], [cards[0]])[1]).toBe('A100 SXM');
    });
  });

  describe('card names', () => {
    it.each([
      ['huawei', '910B2C', '华为', '昇腾910B'],
      ['huawei', '910B2C', 'Huawei', 'Huawei Ascend 910B'],
      ['huawei', '910B2C', 'Ascend', 'Ascend910B'],
      ['kunlunxin', 'P800 OAM', '昆仑芯', '昆仑芯P800'],
      ['iluvatar', 'Iluvatar BI-V150', '天数智芯', '天数智芯BI-V150'],
      ['moorethreads', 'MTT S4000', 'Moore Threads', 'Moore Threads MTT S4000'],
      ['nvidia', 'NVIDIA H100 80GB HBM3', 'NVIDIA', 'NVIDIA H100'],
      ['amd', 'AMD Instinct MI300X', 'AMD', 'AMD Instinct MI300X'],
      ['metax', 'MetaX C500', 'MetaX', 'MetaX C500'],
      ['enflame', 'Enflame S60G', '燧原', '燧原 S60'],
    ])('%s %j fits %j card %j: vendor words dropped, also when glued on', (vendor, name, brandName, cardName) => {
      expect(names(vendor, name, [{ id: 1, name: brandName }], [{ id: 5, brand_id: 1, name: cardName }])).toEqual([brandName, cardName]);
    });

    it('never matches a card whose name is only vendor words', () => {
      expect(names('nvidia', 'NVIDIA Tesla', [{ id: 1, name: 'NVIDIA' }], [{ id: 2, brand_id: 1, name: 'NVIDIA Tesla' }])[1]).toBeNull();
      expect(names('huawei', 'Ascend910', [{ id: 1, name: '华为' }], [{ id: 2, brand_id: 1, name: '华为 昇腾' }])[1]).toBeNull();
    });

    it('needs every card token: a card that names another memory size or form factor does not fit', () => {
      const cards = [{ id: 1, brand_id: 1, name: 'A100 40GB' }];
      expect(names('nvidia', 'NVIDIA A100-SXM4-80GB', [{ id: 1, name: 'NVIDIA' }], cards)[1]).toBeNull();
      expect(names('nvidia', 'NVIDIA A100-SXM4-40GB', [{ id: 1, name: 'NVIDIA' }], cards)[1]).toBe('A100 40GB');
    });

    it('breaks a tie by the lowest id, whatever the order', () => {
      const cards = [
        { id: 9, brand_id: 1, name: 'H100 80GB' },
        { id: 4, brand_id: 1, name: 'NVIDIA H100-80GB' },
      ];
      const pick = (list: Card[]) => matchInventory({ vendor: 'nvidia', name: 'NVIDIA H100 80GB HBM3' }, [{ id: 1, name: 'NVIDIA' }], list);
      expect(pick(cards).accelerator_card?.id).toBe(4);
      expect(pick([...cards].reverse()).accelerator_card?.id).toBe(4);
    });

    it('prefers the card that matches more characters: more tokens or a longer variant', () => {
      const brands = [{ id: 1, name: 'NVIDIA' }];
      expect(
        names('nvidia', 'NVIDIA H100 80GB HBM3', brands, [
          { id: 1, brand_id: 1, name: 'H100' },
          { id: 2, brand_id: 1, name: 'H100 HBM3' },
        ])[1],
      ).toBe('H100 HBM3');
      expect(
        names(
          'huawei',
          '310P3',
          [{ id: 1, name: '华为' }],
          [
            { id: 1, brand_id: 1, name: '310' },
            { id: 2, brand_id: 1, name: '310P' },
          ],
        )[1],
      ).toBe('310P');
    });
  });

  describe('without a brand or inventory', () => {
    it('searches every card when no brand fits the vendor', () => {
      expect(names('metax', 'MetaX C500', [{ id: 1, name: 'NVIDIA' }], [{ id: 3, brand_id: 1, name: 'C500' }])).toEqual([null, 'C500']);
      expect(names('hygon', 'Z100L', [], CARDS)).toEqual([null, 'Z100']);
      expect(names('nvidia', 'NVIDIA A100-SXM4-80GB', [], CARDS)).toEqual([null, 'A100 80GB']);
    });

    it('gives nulls for an empty inventory', () => {
      expect(matchInventory({ vendor: 'nvidia', name: 'NVIDIA A100-SXM4-80GB' }, [], [])).toEqual({ brand: null, accelerator_card: null });
      expect(names('huawei', '910B2C', BRANDS, [])).toEqual(['华为', null]);
    });

    it('gives no card for an empty or unreadable detected name', () => {
      expect(names('nvidia', '')).toEqual(['NVIDIA', null]);
      expect(names('nvidia', ' - / ')).toEqual(['NVIDIA', null]);
      expect(names('cambricon', 'MLU370')).toEqual(['寒武纪', null]);
    });

    it('gives no brand for a vendor it does not know', () => {
      expect(names('intel', 'Intel Data Center GPU Max 1550')).toEqual([null, null]);
      expect(names('toString', 'A100')).toEqual([null, 'A100']);
    });

    it('never throws on malformed input', () => {
      const bad = <T>(value: unknown) => value as T;
      expect(matchInventory(bad({ vendor: 'nvidia', name: undefined }), BRANDS, CARDS)).toEqual({
        brand: { id: 1, name: 'NVIDIA' },
        accelerator_card: null,
      });
      expect(matchInventory(bad(null), bad(null), bad(undefined))).toEqual({ brand: null, accelerator_card: null });
      expect(
        matchInventory(
          { vendor: 'nvidia', name: 'NVIDIA A10' },
          bad([null, { id: 2, name: null }, { id: 1, name: 'NVIDIA' }]),
          bad([null, { id: 3, brand_id: 1, name: undefined }, { id: 4, brand_id: 1, name: 'A10' }]),
        ),
      ).toEqual({ brand: { id: 1, name: 'NVIDIA' }, accelerator_card: { id: 4, name: 'A10' } });
    });
  });
});
