import { AcceleratorMetrics, AcceleratorVendor } from './accelerator-metrics';

export interface InventoryBrandRef {
  id: number;
  name: string;
}

export interface InventoryCardRef {
  id: number;
  brand_id: number;
  name: string;
}

export interface InventoryMatch {
  brand: { id: number; name: string } | null;
  accelerator_card: { id: number; name: string } | null;
}

/** How operators may spell each vendor in a brand name (compared after {@link normalise}: lower case, no spaces). */
const VENDOR_ALIASES: Record<AcceleratorVendor, readonly string[]> = {
  nvidia: ['nvidia', '英伟达'],
  huawei: ['huawei', 'ascend', '华为', '昇腾'],
  cambricon: ['cambricon', '寒武纪'],
  hygon: ['hygon', '海光'],
  amd: ['amd', '超威'],
  metax: ['metax', '沐曦'],
  iluvatar: ['iluvatar', 'corex', '天数', '天数智芯'],
  moorethreads: ['moorethreads', 'moore threads', 'mthreads', '摩尔线程'],
  kunlunxin: ['kunlunxin', 'kunlun', '昆仑芯', '昆仑'],
  enflame: ['enflame', '燧原'],
};

/**
 * Words that name a vendor or a product family rather than a model, so they never tell two cards apart. Dropped from
 * card names (an operator may write "NVIDIA A100", "Tesla V100", "Ascend 910B", "MTT S4000" or just "A100").
 * Kept out on purpose: "rtx", "mlu", "dcu", "bi", "mr"... which are part of the model name itself.
 */
const VENDOR_WORDS: ReadonlySet<string> = new Set([
  ...Object.values(VENDOR_ALIASES)
    .flat()
    .flatMap((alias) => tokens(alias)),
  'nvidia',
  'geforce',
  'tesla',
  'quadro',
  'ascend',
  'atlas',
  'instinct',
  'radeon',
  'mtt',
  'moore',
  'threads',
]);

/** The vendor words, longest first, so "昆仑芯P800" loses "昆仑芯" rather than "昆仑". */
const CARD_PREFIXES: readonly string[] = [...VENDOR_WORDS].sort((a, b) => b.length - a.length);

/**
 * Prefixes a tool may glue to a model number in the detected name ("Ascend910", "MXC550"): such a token also counts as
 * the model number alone. "mx" only applies on the detected side: in a card name ("GeForce MX250") it is the model.
 */
const GLUED_PREFIXES: readonly string[] = [...VENDOR_WORDS, 'mx'].sort((a, b) => b.length - a.length);

/** Lower case, letters and digits only (any script). */
function normalise(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

/** Lower-case runs of letters and digits (any script). */
function tokens(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((token) => token.length > 0);
}

/**
 * `token` without the first (longest) word of `prefixes` it starts with, when what is left looks like a model: it holds
 * a digit ("ascend910" → "910"), or a Chinese prefix is followed by Latin text ("天数智芯bi" → "bi"). Else null.
 */
function unglue(token: string, prefixes: readonly string[]): string | null {
  for (const prefix of prefixes) {
    if (token.length <= prefix.length || !token.startsWith(prefix)) continue;
    const rest = token.slice(prefix.length);
    const scriptChange = /[^a-z0-9]/.test(prefix) && /^[a-z0-9]/.test(rest);
    return /\p{N}/u.test(rest) || scriptChange ? rest : null;
  }
  return null;
}

/** The detected name's tokens, plus the model number of each token that had a vendor word glued in front. */
function detectedTokens(name: string): Set<string> {
  const result = new Set<string>();
  for (const token of tokens(name)) {
    result.add(token);
    let rest = unglue(token, GLUED_PREFIXES);
    while (rest !== null) {
      result.add(rest);
      rest = unglue(rest, GLUED_PREFIXES);
    }
  }
  return result;
}

/** The card name's tokens that can tell models apart: vendor words dropped, also when glued in front ("昇腾910B"). */
function cardTokens(name: string): string[] {
  const result: string[] = [];
  for (let token of tokens(name)) {
    let rest = unglue(token, CARD_PREFIXES);
    while (rest !== null) {
      token = rest;
      rest = unglue(token, CARD_PREFIXES);
    }
    if (!VENDOR_WORDS.has(token)) result.push(token);
  }
  return result;
}

/**
 * Whether `card` is `detected` cut short at a point where a model suffix may start: the rest begins with a letter
 * ("z100" → "z100l", "l40" → "l40s"), or with a digit only when the card token itself ends in a letter
 * ("910b" → "910b2c", "310p" → "310p3"). "a10" → "a100" and "h20" → "h200" are different models, not variants.
 */
function isVariantPrefix(card: string, detected: string): boolean {
  if (detected.length <= card.length || !detected.startsWith(card)) return false;
  const next = detected.charAt(card.length);
  if (/\p{L}/u.test(next)) return true;
  return /\p{N}/u.test(next) && /\p{L}/u.test(card.charAt(card.length - 1));
}

interface Score {
  exact: boolean;
  /** Characters of the card's tokens. */
  length: number;
}

/** How well a card's tokens match the detected tokens; null when they do not. */
function scoreCard(card: string[], detected: Set<string>): Score | null {
  if (card.length === 0) return null;
  const length = card.reduce((sum, token) => sum + token.length, 0);
  if (card.every((token) => detected.has(token))) return { exact: true, length };
  const last = card[card.length - 1];
  const head = card.slice(0, -1);
  if (head.every((token) => detected.has(token)) && [...detected].some((token) => isVariantPrefix(last, token))) {
    return { exact: false, length };
  }
  return null;
}

/** Positive when `a` is the better match. */
function compareScores(a: Score, b: Score): number {
  if (a.exact !== b.exact) return a.exact ? 1 : -1;
  return a.length - b.length;
}

function matchBrand(vendor: string, brands: readonly InventoryBrandRef[]): InventoryBrandRef | null {
  const aliases = Object.prototype.hasOwnProperty.call(VENDOR_ALIASES, vendor) ? VENDOR_ALIASES[vendor as AcceleratorVendor].map(normalise) : [];
  let best: { brand: InventoryBrandRef; alias: number } | null = null;
  for (const brand of brands) {
    if (!brand || typeof brand.name !== 'string') continue;
    const name = normalise(brand.name);
    const alias = Math.max(0, ...aliases.filter((a) => a.length > 0 && name.includes(a)).map((a) => a.length));
    if (alias === 0) continue;
    if (!best || alias > best.alias || (alias === best.alias && brand.id < best.brand.id)) best = { brand, alias };
  }
  return best ? best.brand : null;
}

/**
 * Finds the inventory brand and accelerator card of a detected accelerator. Pure; never throws; null when nothing fits.
 *
 * Brand: a brand whose name, lower-cased without spaces or punctuation, contains one of the vendor's aliases in
 * English or Chinese (nvidia/英伟达, huawei/ascend/华为/昇腾, amd/超威, 天数/天数智芯, 摩尔线程, 昆仑芯/昆仑...). Among
 * several, the one that contains the longest alias, then the lowest id.
 *
 * Card: only the matched brand's cards (every card when no brand matched). Names are split into lower-case tokens on
 * anything that is not a letter or digit. On the card side, vendor and family words ("NVIDIA", "Tesla", "GeForce",
 * "Ascend", "Instinct", "MTT"...) are dropped, also when glued in front of a model number ("昇腾910B" → "910b"). On the
 * detected side a token with such a word glued in front also counts as the bare model ("Ascend910" → "910",
 * "MXC550" → "c550"); letters and digits are otherwise never split apart.
 * - Exact: every card token is a detected token ("A100 80GB" ⊂ "NVIDIA A100-SXM4-80GB").
 * - Else variant: all card tokens but the last are detected tokens, and the last starts a detected token whose rest
 *   begins with a letter, or with a digit when the card token ends in a letter: "910B" fits "910B2C", "Z100" fits
 *   "Z100L", "S60" fits "S60G"; "A10" does not fit "A100", nor "H20" "H200".
 * Best card: exact before variant, then more matched characters ("A100 80GB" over "A100", "910B2" over "910B"), then
 * the lowest id.
 */
export function matchInventory(
  detected: Pick<AcceleratorMetrics, 'vendor' | 'name'>,
  brands: InventoryBrandRef[],
  cards: InventoryCardRef[],
): InventoryMatch {
  const brandList = Array.isArray(brands) ? brands : [];
  const cardList = Array.isArray(cards) ? cards.filter((card) => card && typeof card.name === 'string') : [];
  const vendor = typeof detected?.vendor === 'string' ? detected.vendor : '';
  const name = typeof detected?.name === 'string' ? detected.name : '';

  const brand = matchBrand(vendor, brandList);
  const candidates = brand ? cardList.filter((card) => card.brand_id === brand.id) : cardList;
  const found = detectedTokens(name);

  let best: { card: InventoryCardRef; score: Score } | null = null;
  for (const card of candidates) {
    const score = scoreCard(cardTokens(card.name), found);
    if (!score) continue;
    const order = best ? compareScores(score, best.score) : 1;
    if (order > 0 || (order === 0 && best && card.id < best.card.id)) best = { card, score };
  }

  return {
    brand: brand ? { id: brand.id, name: brand.name } : null,
    accelerator_card: best ? { id: best.card.id, name: best.card.name } : null,
  };
}
