/**
 * Compositional scenes built from Fashion-MNIST items (browser-safe).
 *
 * A scene is a canvas divided into a grid of `rows` x `cols` cells, each the size of one source image
 * (28x28 for Fashion-MNIST). The default grid is 2x2, a 56x56 canvas: small enough for the benchmark-sized
 * models (patch 4 -> 14x14 = 196 patches), large enough for left/right and above/below relations.
 * Each scene holds 2-4 items of distinct classes in distinct cells; empty cells are black (0), like the
 * Fashion-MNIST background. Because classes within a scene are distinct, "the bag" always names one item.
 *
 * Per scene there is:
 * - a canonical description, independent of wording: items in reading order as `name@row,col`, then the
 *   pairwise relations between items sharing a row (`A left-of B`) or a column (`A above B`), e.g.
 *   `sneaker@0,0 bag@0,1 dress@1,0 | sneaker left-of bag, sneaker above dress` (names: short class names
 *   with spaces as '-'; `| none` when no two items share a row or column);
 * - several captions in different words (synonyms, templates, position and relation words);
 * - question/answer pairs with short answers (a short class name, "yes"/"no", a digit, a position name
 *   like "top left", or "nothing").
 * Two scenes with the same items in swapped positions have different canonical descriptions, and, drawn
 * with the same rng, captions that differ only in position/relation words: hard negatives.
 *
 * Train scenes must be built from the training images and test scenes from the test images (the caller
 * passes the matching ImageSet) so that no test image is seen in training.
 */
import { FMNIST_SHORT_NAMES, FMNIST_SYNONYMS, articleFor, fillTemplate } from './fmnist-classes';
import { Rng } from '@mmzoo/core';
import { ImageSet, checkImageSet, imageBytes } from './types';

/** One item placed in a scene. */
export interface SceneItem {
  /** Fashion-MNIST class 0-9. */
  label: number;
  /** Grid row, 0 = top. */
  row: number;
  /** Grid column, 0 = left. */
  col: number;
  /** Index of the item's image in the source ImageSet (-1 when not rendered from a source). */
  sourceIndex: number;
}

/**
 * What a scene question asks ({@link sceneQuestions} gives each pair its kind): `count` how many items; `exists` is there
 * an X (yes / no); `location` where is an item (a cell name); `cell` what is in a cell (a class or "nothing");
 * `neighbour` what is next to an item in a direction (a class); `relation` is A left of / above B (yes / no).
 */
export const SCENE_QUESTION_KINDS = ['count', 'exists', 'location', 'cell', 'neighbour', 'relation'] as const;

/** One of {@link SCENE_QUESTION_KINDS}. */
export type SceneQuestionKind = (typeof SCENE_QUESTION_KINDS)[number];

/** A question about a scene, its short answer and what kind of question it is. */
export interface QaPair {
  question: string;
  answer: string;
  kind: SceneQuestionKind;
}

/** The text side of one scene. */
export interface Scene {
  /** Wording-independent description; equal for equal layouts, different for different layouts. */
  canonical: string;
  /** Distinct captions of the scene in different words. */
  captions: string[];
  /** Question/answer pairs (see the module comment for the answer vocabulary). */
  qa: QaPair[];
  /** The items in reading order (by row, then column). */
  items: SceneItem[];
}

/** Scene grid size in cells. */
export interface SceneGrid {
  rows: number;
  cols: number;
}

/** Rendered scenes: `images` is [count, channels, rows * cellHeight, cols * cellWidth] uint8; `scenes[i]` describes image i. */
export interface SceneSet {
  images: ImageSet;
  scenes: Scene[];
  rows: number;
  cols: number;
  /**
   * int32 [count], only when built with {@link SceneOptions.twins} > 0: the index of each scene's swapped twin
   * (the scene just before or after it), or -1 when it has none
   */
  twinOf?: Int32Array;
}

/**
 * The pair of items a twin swaps, drawn from `rng` among all index pairs (a < b) of `items` as given.
 * @returns [a, b] indices into `items`
 * @throws RangeError when there are fewer than 2 items
 */
export function twinSwap(items: readonly SceneItem[], rng: Rng): [number, number] {
  const n = items.length;
  if (n < 2) throw new RangeError(`twinSwap: a twin needs at least 2 items to swap, got ${n}`);
  const a = rng.int(n);
  const b = (a + 1 + rng.int(n - 1)) % n;
  return a < b ? [a, b] : [b, a];
}

/** Options of {@link buildScenes}; all optional. */
export interface SceneOptions {
  /** Grid rows (default 2). */
  rows?: number;
  /** Grid columns (default 2). */
  cols?: number;
  /** Fewest items per scene (default 2). */
  minItems?: number;
  /** Most items per scene (default min(4, rows * cols)). */
  maxItems?: number;
  /** Captions per scene (default 4). */
  captionsPerScene?: number;
  /** How the captions are worded (default 'varied'); see {@link SceneCaptionStyle}. */
  captionStyle?: SceneCaptionStyle;
  /**
   * The fraction of layouts followed by a "swapped twin" (default 0, none; 1: every layout): the same items with
   * two of them exchanging cells ({@link swapPositions}), re-rendered, with captions drawn from the same rng so
   * that they differ from the layout's only in position and relation words. Batches that keep twins together
   * give ITM hard negatives that only spatial grounding tells apart (ALBEF section 3.2 samples negatives by ITC
   * similarity; swapped-composition negatives as in NegCLIP, Yuksekgonul et al., ICLR 2023, "When and why
   * vision-language models behave like bags-of-words"). Single-item layouts get no twin.
   */
  twins?: number;
}

/**
 * How scene captions are worded.
 * - `varied`: {@link sceneCaptions}, positional or relational captions with random templates, synonyms, item
 *   order and prepositions (many wordings of one layout, for contrastive and matching objectives).
 * - `layout`: {@link layoutCaptions}, one fixed, complete wording that names every occupied cell in reading
 *   order, "top left: a sneaker, top right: a bag, bottom left: a dress.", the first caption with the short class
 *   names and the others with random synonyms. Meant as a captioning target and its references: every word
 *   carries content, so BLEU / CIDEr measure whether the items and their cells are right rather than whether a
 *   template matches (the numbers are in eval/caption-eval `evaluateCaptioning`).
 */
export type SceneCaptionStyle = 'varied' | 'layout';

/** The valid {@link SceneCaptionStyle} names. */
export const SCENE_CAPTION_STYLES: readonly SceneCaptionStyle[] = ['varied', 'layout'];

const COUNT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

const POSITION_INTROS = ['{}.', 'a scene with {}.', 'a picture showing {}.', '{n} items: {}.', 'there is {}.'];
const RELATION_INTROS = ['{}.', 'a picture of {}.', 'in this image: {}.', 'a scene with {}.'];

// LEFT_OF/RIGHT_OF and ABOVE/BELOW correspond index by index.
const LEFT_OF = ['to the left of', 'left of', 'on the left beside'];
const RIGHT_OF = ['to the right of', 'right of', 'on the right beside'];
const ABOVE = ['above', 'over', 'directly above', 'just above']; // same length as BELOW: swaps map word to word
const BELOW = ['below', 'under', 'beneath', 'underneath'];

const COUNT_QUESTIONS = ['how many items are there?', 'how many things are in the picture?', 'how many objects can you see?'];
const DIRECTION_QUESTIONS: Record<Direction, string[]> = {
  left: ['what is to the left of the {}?', 'what is left of the {}?'],
  right: ['what is to the right of the {}?', 'what is right of the {}?'],
  above: ['what is above the {}?', 'what is over the {}?'],
  below: ['what is below the {}?', 'what is under the {}?'],
};

type Direction = 'left' | 'right' | 'above' | 'below';

function checkGrid(grid: SceneGrid): void {
  if (!Number.isInteger(grid.rows) || !Number.isInteger(grid.cols) || grid.rows < 1 || grid.cols < 1) {
    throw new RangeError(`scene grid must be positive integers, got ${grid.rows}x${grid.cols}`);
  }
}

/**
 * Checks a list of scene items.
 * @throws RangeError on a label outside 0-9, a cell outside the grid, two items in one cell or of one class
 */
export function checkSceneItems(items: readonly SceneItem[], grid: SceneGrid): void {
  checkGrid(grid);
  const cells = new Set<number>();
  const labels = new Set<number>();
  for (const it of items) {
    if (!Number.isInteger(it.label) || it.label < 0 || it.label >= FMNIST_SHORT_NAMES.length) {
      throw new RangeError(`scene item label ${it.label} out of range 0-${FMNIST_SHORT_NAMES.length - 1}`);
    }
    if (!Number.isInteger(it.row) || !Number.isInteger(it.col) || it.row < 0 || it.col < 0 || it.row >= grid.rows || it.col >= grid.cols) {
      throw new RangeError(`scene item at ${it.row},${it.col} is outside the ${grid.rows}x${grid.cols} grid`);
    }
    const cell = it.row * grid.cols + it.col;
    if (cells.has(cell)) throw new RangeError(`two scene items in cell ${it.row},${it.col}`);
    if (labels.has(it.label)) throw new RangeError(`two scene items of class ${FMNIST_SHORT_NAMES[it.label]}`);
    cells.add(cell);
    labels.add(it.label);
  }
}

/** Items sorted in reading order (row, then column); a new array. */
function readingOrder(items: readonly SceneItem[]): SceneItem[] {
  return [...items].sort((a, b) => a.row - b.row || a.col - b.col);
}

function slug(label: number): string {
  return FMNIST_SHORT_NAMES[label].replace(/ /g, '-');
}

/**
 * The canonical relations of a scene: `A left-of B` for items in one row (A's column smaller), `A above B`
 * for items in one column (A's row smaller), in reading order of A then B. Names as in {@link canonicalDescription}.
 */
export function sceneRelations(items: readonly SceneItem[]): string[] {
  const sorted = readingOrder(items);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      const a = sorted[i];
      const b = sorted[j];
      if (a.row === b.row) out.push(`${slug(a.label)} left-of ${slug(b.label)}`);
      else if (a.col === b.col) out.push(`${slug(a.label)} above ${slug(b.label)}`);
    }
  }
  return out;
}

/**
 * The wording-independent description of a layout, e.g.
 * `sneaker@0,0 bag@0,1 dress@1,0 | sneaker left-of bag, sneaker above dress`.
 * Depends only on the (label, row, col) set, not on item order, source images or any rng.
 */
export function canonicalDescription(items: readonly SceneItem[]): string {
  const placed = readingOrder(items).map((it) => `${slug(it.label)}@${it.row},${it.col}`);
  const relations = sceneRelations(items);
  return `${placed.join(' ')} | ${relations.length ? relations.join(', ') : 'none'}`;
}

/**
 * The name of a cell: "top left", "bottom right", "top", "left", "center", "middle left" for grids up to
 * 3x3 (rows: top/middle/bottom, columns: left/center/right), else "row R, column C" (1-based).
 */
export function positionName(row: number, col: number, grid: SceneGrid): string {
  if (grid.rows > 3 || grid.cols > 3) return `row ${row + 1}, column ${col + 1}`;
  const rowNames = grid.rows === 1 ? [''] : grid.rows === 2 ? ['top', 'bottom'] : ['top', 'middle', 'bottom'];
  const colNames = grid.cols === 1 ? [''] : grid.cols === 2 ? ['left', 'right'] : ['left', 'center', 'right'];
  const r = rowNames[row];
  const c = colNames[col];
  if ((r === 'middle' || r === '') && (c === 'center' || c === '')) return 'center';
  if (r === '') return c;
  if (c === '') return r;
  return `${r} ${c}`;
}

function positionPhrase(row: number, col: number, grid: SceneGrid, rng: Rng): string {
  const name = positionName(row, col, grid);
  const preposition = rng.choice(['in', 'at']);
  return name.startsWith('row ') ? `in ${name}` : `${preposition} the ${name}`;
}

function countWord(n: number): string {
  return n < COUNT_WORDS.length ? COUNT_WORDS[n] : String(n);
}

function joinList(parts: string[]): string {
  if (parts.length <= 1) return parts.join('');
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

function withArticle(noun: string): string {
  return `${articleFor(noun)} ${noun}`;
}

/** The relation phrase placing `s` relative to `o`, e.g. "to the left of", "under", "above and to the right of". */
function relationPhrase(s: SceneItem, o: SceneItem, rng: Rng): string {
  const dr = s.row - o.row;
  const dc = s.col - o.col;
  if (dr === 0) return rng.choice(dc < 0 ? LEFT_OF : RIGHT_OF);
  if (dc === 0) return rng.choice(dr < 0 ? ABOVE : BELOW);
  const vertical = dr < 0 ? 'above' : 'below';
  const horizontal = dc < 0 ? 'left' : 'right';
  return rng.bool() ? `${vertical} and to the ${horizontal} of` : `to the ${dr < 0 ? 'upper' : 'lower'} ${horizontal} of`;
}

/** One caption: every item with its absolute position, or a chain of relations between items. */
function sceneCaption(items: readonly SceneItem[], grid: SceneGrid, rng: Rng): string {
  const positional = rng.bool();
  const nouns = items.map((it) => rng.choice(FMNIST_SYNONYMS[it.label]));
  const order = Array.from(rng.permutation(items.length));
  if (positional || items.length < 2) {
    const parts = order.map((i) => `${withArticle(nouns[i])} ${positionPhrase(items[i].row, items[i].col, grid, rng)}`);
    const intro = rng.choice(POSITION_INTROS);
    return intro.replace('{n}', countWord(items.length)).replace('{}', joinList(parts));
  }
  const [first, second] = order;
  const parts = [`${withArticle(nouns[first])} ${relationPhrase(items[first], items[second], rng)} ${withArticle(nouns[second])}`];
  for (let k = 2; k < order.length; k++) {
    const s = order[k];
    const o = order[rng.int(k)];
    parts.push(`${withArticle(nouns[s])} ${relationPhrase(items[s], items[o], rng)} the ${nouns[o]}`);
  }
  return rng.choice(RELATION_INTROS).replace('{}', joinList(parts));
}

/**
 * Captions of a layout in different words: each caption is either every item with its position
 * ("a sneaker in the top left and a bag at the top right.") or a chain of relations ("a sneaker to the left
 * of a bag and a dress under the sneaker."), with random synonyms, item order and templates.
 * Deterministic from `rng`; returns `count` distinct captions when the layout allows that many
 * (duplicates after 20 * count attempts are dropped, so fewer may come back for one-item scenes).
 */
export function sceneCaptions(items: readonly SceneItem[], grid: SceneGrid, rng: Rng, count: number): string[] {
  // Draws are tied to classes, not positions, so a layout with swapped positions gets the same synonyms
  // and mention order from the same rng: its captions differ only in position/relation words.
  const byClass = [...items].sort((a, b) => a.label - b.label);
  const seen = new Set<string>();
  for (let attempt = 0; seen.size < count && attempt < 20 * count; attempt++) {
    seen.add(sceneCaption(byClass, grid, rng));
  }
  return [...seen];
}

/**
 * The `layout` caption of a scene (see {@link SceneCaptionStyle}): every item as `<cell>: <a noun>` in reading
 * order (row, then column; empty cells are left out), joined by commas and ended by a full stop:
 * "top left: a sneaker, top right: a bag, bottom left: a dress." Cell names come from {@link positionName}.
 * @param noun the noun of each class (default: the short class name, e.g. 't-shirt', 'ankle boot')
 * @throws RangeError on invalid items (see {@link checkSceneItems})
 */
export function layoutCaption(items: readonly SceneItem[], grid: SceneGrid, noun: (label: number) => string = (label) => FMNIST_SHORT_NAMES[label]): string {
  checkSceneItems(items, grid);
  return `${readingOrder(items).map((it) => `${positionName(it.row, it.col, grid)}: ${withArticle(noun(it.label))}`).join(', ')}.`;
}

/**
 * Up to `count` distinct `layout` captions of a scene ({@link SceneCaptionStyle}): the first with the short class
 * names ({@link layoutCaption}), the others with a random synonym per class ({@link FMNIST_SYNONYMS}, drawn in
 * class order, so a layout with swapped positions gets the same nouns from the same rng). Deterministic from
 * `rng`; draws that repeat a caption are dropped (after 20 * count draws fewer may come back).
 * @throws RangeError on invalid items (see {@link checkSceneItems})
 */
export function layoutCaptions(items: readonly SceneItem[], grid: SceneGrid, rng: Rng, count: number): string[] {
  if (count <= 0) return [];
  const seen = new Set<string>([layoutCaption(items, grid)]);
  const classes = items.map((it) => it.label).sort((a, b) => a - b);
  for (let attempt = 0; seen.size < count && attempt < 20 * count; attempt++) {
    const nouns = new Map(classes.map((label) => [label, rng.choice(FMNIST_SYNONYMS[label])]));
    seen.add(layoutCaption(items, grid, (label) => nouns.get(label)!));
  }
  return [...seen];
}

/** The nearest item from `item` in `direction` within its row or column, if any. */
function neighbour(items: readonly SceneItem[], item: SceneItem, direction: Direction): SceneItem | undefined {
  let best: SceneItem | undefined;
  let bestDistance = Infinity;
  for (const other of items) {
    let distance = -1;
    if (direction === 'left' && other.row === item.row) distance = item.col - other.col;
    if (direction === 'right' && other.row === item.row) distance = other.col - item.col;
    if (direction === 'above' && other.col === item.col) distance = item.row - other.row;
    if (direction === 'below' && other.col === item.col) distance = other.row - item.row;
    if (distance > 0 && distance < bestDistance) {
      best = other;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * Question/answer pairs about a layout, in this order:
 * 1. count: "how many items are there?" -> "3";
 * 2. existence: "is there a bag?" -> "yes" for every item, and "no" for as many absent classes (random);
 * 3. location: "where is the bag?" -> "top right" (see {@link positionName}) for every item;
 * 4. cell content: "what is in the top left?" -> "sneaker" or "nothing", for every cell;
 * 5. neighbours: "what is to the left of the bag?" -> the nearest item in that direction in the same row
 *    or column, for every item and direction that has one;
 * 6. relation checks: for every canonical relation pair, "is the sneaker to the left of the bag?" -> "yes"
 *    or the reversed relation -> "no" (random).
 * Each pair carries its {@link SceneQuestionKind} (count, exists, location, cell, neighbour, relation, in the order
 * above). Names in questions and answers are short class names. Deterministic from `rng`.
 */
export function sceneQuestions(items: readonly SceneItem[], grid: SceneGrid, rng: Rng): QaPair[] {
  const sorted = readingOrder(items);
  const name = (label: number): string => FMNIST_SHORT_NAMES[label];
  const qa: QaPair[] = [{ question: rng.choice(COUNT_QUESTIONS), answer: String(sorted.length), kind: 'count' }];

  for (const it of sorted) qa.push({ question: fillTemplate('is there a {}?', name(it.label)), answer: 'yes', kind: 'exists' });
  const present = new Set(sorted.map((it) => it.label));
  const absent = rng.shuffle(FMNIST_SHORT_NAMES.map((_, label) => label).filter((label) => !present.has(label)));
  for (const label of absent.slice(0, sorted.length)) {
    qa.push({ question: fillTemplate('is there a {}?', name(label)), answer: 'no', kind: 'exists' });
  }

  for (const it of sorted) {
    qa.push({ question: `where is the ${name(it.label)}?`, answer: positionName(it.row, it.col, grid), kind: 'location' });
  }
  for (let row = 0; row < grid.rows; row++) {
    for (let col = 0; col < grid.cols; col++) {
      const at = sorted.find((it) => it.row === row && it.col === col);
      const place = positionName(row, col, grid);
      const question = place.startsWith('row ') ? `what is in ${place}?` : `what is in the ${place}?`;
      qa.push({ question, answer: at ? name(at.label) : 'nothing', kind: 'cell' });
    }
  }

  const directions: Direction[] = ['left', 'right', 'above', 'below'];
  for (const it of sorted) {
    for (const direction of directions) {
      const other = neighbour(sorted, it, direction);
      if (other) qa.push({ question: fillTemplate(rng.choice(DIRECTION_QUESTIONS[direction]), name(it.label)), answer: name(other.label), kind: 'neighbour' });
    }
  }

  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      const a = sorted[i];
      const b = sorted[j];
      if (a.row !== b.row && a.col !== b.col) continue;
      const [trueWord, falseWord] = a.row === b.row ? ['to the left of', 'to the right of'] : ['above', 'below'];
      const truth = rng.bool();
      qa.push({
        question: `is the ${name(a.label)} ${truth ? trueWord : falseWord} the ${name(b.label)}?`,
        answer: truth ? 'yes' : 'no',
        kind: 'relation',
      });
    }
  }
  return qa;
}

/**
 * The text side of a layout: canonical description, `captionCount` captions in `captionStyle` (default
 * 'varied': {@link sceneCaptions}; 'layout': {@link layoutCaptions}; either from `rng.fork('captions')`) and
 * question/answer pairs (from `rng.fork('qa')`). Items are returned in reading order.
 * @throws RangeError on invalid items (see {@link checkSceneItems}) or an unknown caption style
 */
export function describeScene(items: readonly SceneItem[], grid: SceneGrid, rng: Rng, captionCount = 4, captionStyle: SceneCaptionStyle = 'varied'): Scene {
  checkSceneItems(items, grid);
  if (!SCENE_CAPTION_STYLES.includes(captionStyle)) {
    throw new RangeError(`scene caption style must be one of ${SCENE_CAPTION_STYLES.join(', ')}, got '${captionStyle}'`);
  }
  const sorted = readingOrder(items).map((it) => ({ ...it }));
  return {
    canonical: canonicalDescription(sorted),
    captions: (captionStyle === 'layout' ? layoutCaptions : sceneCaptions)(sorted, grid, rng.fork('captions'), captionCount),
    qa: sceneQuestions(sorted, grid, rng.fork('qa')),
    items: sorted,
  };
}

/**
 * A copy of `items` with the cells of items `i` and `j` exchanged (each keeps its class and source image):
 * the hard negative of a layout. Indices refer to `items` as given.
 * @throws RangeError when `i` or `j` is not an index of `items`
 */
export function swapPositions(items: readonly SceneItem[], i: number, j: number): SceneItem[] {
  if (!(i in items) || !(j in items)) throw new RangeError(`swapPositions: indices ${i}, ${j} not in [0, ${items.length})`);
  const out = items.map((it) => ({ ...it }));
  out[i].row = items[j].row;
  out[i].col = items[j].col;
  out[j].row = items[i].row;
  out[j].col = items[i].col;
  return out;
}

/**
 * Renders a layout: uint8 [channels, rows * height, cols * width] (source sizes), black where no item is,
 * each item's source image copied unchanged into its cell. Writes into `out` at `offset` when given.
 * @throws RangeError when an item's sourceIndex is not an index of `source`
 */
export function renderScene(
  source: ImageSet,
  items: readonly SceneItem[],
  grid: SceneGrid,
  out?: Uint8Array,
  offset = 0,
): Uint8Array {
  const { channels, height, width } = source;
  const canvasH = grid.rows * height;
  const canvasW = grid.cols * width;
  const target = out ?? new Uint8Array(channels * canvasH * canvasW);
  target.fill(0, offset, offset + channels * canvasH * canvasW);
  for (const it of items) {
    const pixels = imageBytes(source, it.sourceIndex);
    for (let c = 0; c < channels; c++) {
      for (let y = 0; y < height; y++) {
        const from = (c * height + y) * width;
        const to = offset + (c * canvasH + it.row * height + y) * canvasW + it.col * width;
        target.set(pixels.subarray(from, from + width), to);
      }
    }
  }
  return target;
}

/**
 * Draws one layout from `layout` (the draws of {@link buildScenes}, in its order): an item count uniform in
 * [minItems, maxItems], distinct random cells, distinct random classes among `classes`, then each item's source image
 * from `source(label, layout)`.
 * @param source the source index of an item of class `label` (-1 for a layout that is never rendered)
 * @returns the items in draw order (not reading order); the caller checks the options
 */
export function drawLayout(
  layout: Rng, grid: SceneGrid, classes: readonly number[], minItems: number, maxItems: number,
  source: (label: number, layout: Rng) => number = () => -1,
): SceneItem[] {
  const n = minItems + layout.int(maxItems - minItems + 1);
  const cells = layout.permutation(grid.rows * grid.cols).slice(0, n);
  const labels = layout.shuffle([...classes]).slice(0, n);
  return labels.map((label, k) => ({ label, row: Math.floor(cells[k] / grid.cols), col: cells[k] % grid.cols, sourceIndex: source(label, layout) }));
}

/**
 * Builds `count` random scenes from the labelled images of `source`, deterministic from `seed`.
 * Scene i depends only on (`source`, `seed`, options, i): it uses `new Rng(seed).fork(i)`, so the first
 * scenes of a longer build equal a shorter build's. Per scene: an item count uniform in
 * [minItems, maxItems], distinct random cells, distinct random classes (among classes present in
 * `source`), and for each item a random image of its class.
 * Pass the training images for training scenes and the test images for test scenes.
 * With `options.twins` = f > 0, layout k (built as above from `new Rng(seed).fork(k)`) is followed, when
 * `fork(k).fork('twin').next() < f` and there is room left, by its swapped twin: the pair {@link twinSwap}
 * draws from the same 'twin' stream exchange cells, and its captions and questions come from the same text rng
 * as the layout's. With f = 0 scene i is layout i; `twinOf` records the pairs.
 * @param source labelled images (labels 0-9), e.g. `loadFashionMnist(root, 'train')`
 * @returns images uint8 [count, source.channels, rows * source.height, cols * source.width] (56x56 by
 *   default) and one {@link Scene} per image
 * @throws Error when `source` has no labels or too few classes for `minItems`; RangeError on bad options
 *   (including twins outside [0, 1])
 */
export function buildScenes(source: ImageSet, count: number, seed: number, options: SceneOptions = {}): SceneSet {
  checkImageSet(source);
  if (!source.labels) throw new Error('buildScenes: the source ImageSet has no labels');
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`buildScenes: count must be a non-negative integer, got ${count}`);
  const grid: SceneGrid = { rows: options.rows ?? 2, cols: options.cols ?? 2 };
  checkGrid(grid);
  const minItems = options.minItems ?? 2;
  const maxItems = options.maxItems ?? Math.min(4, grid.rows * grid.cols);
  const captionCount = options.captionsPerScene ?? 4;
  const captionStyle = options.captionStyle ?? 'varied';
  const twins = options.twins ?? 0;
  if (!(twins >= 0 && twins <= 1)) throw new RangeError(`buildScenes: twins is the fraction of layouts with a twin, in [0, 1], got ${twins}`);

  const byClass: number[][] = FMNIST_SHORT_NAMES.map(() => []);
  source.labels.forEach((label, index) => {
    if (label < 0 || label >= byClass.length) throw new RangeError(`buildScenes: source label ${label} at ${index} out of range 0-9`);
    byClass[label].push(index);
  });
  const classes = byClass.map((_, label) => label).filter((label) => byClass[label].length > 0);
  const most = Math.min(grid.rows * grid.cols, classes.length);
  if (!Number.isInteger(minItems) || !Number.isInteger(maxItems) || minItems < 1 || minItems > maxItems || maxItems > most) {
    throw new RangeError(
      `buildScenes: need 1 <= minItems <= maxItems <= min(cells, classes present) = ${most}, got ${minItems}..${maxItems}`,
    );
  }

  const { channels, height, width } = source;
  const canvasSize = channels * grid.rows * height * grid.cols * width;
  const images = new Uint8Array(count * canvasSize);
  const scenes: Scene[] = [];
  const root = new Rng(seed);
  const twinOf: number[] = [];
  for (let s = 0; scenes.length < count; s++) {
    const rng = root.fork(s);
    const items = drawLayout(rng.fork('layout'), grid, classes, minItems, maxItems, (label, layout) => layout.choice(byClass[label]));
    const scene = describeScene(items, grid, rng.fork('text'), captionCount, captionStyle);
    renderScene(source, scene.items, grid, images, scenes.length * canvasSize);
    scenes.push(scene);
    twinOf.push(-1);
    if (twins > 0 && scenes.length < count && scene.items.length >= 2) {
      const twinRng = rng.fork('twin');
      if (twinRng.next() < twins) {
        const [a, b] = twinSwap(scene.items, twinRng);
        const twin = describeScene(swapPositions(scene.items, a, b), grid, rng.fork('text'), captionCount, captionStyle);
        renderScene(source, twin.items, grid, images, scenes.length * canvasSize);
        twinOf[scenes.length - 1] = scenes.length;
        twinOf.push(scenes.length - 1);
        scenes.push(twin);
      }
    }
  }
  return {
    images: { images, count, channels, height: grid.rows * height, width: grid.cols * width },
    scenes,
    rows: grid.rows,
    cols: grid.cols,
    ...(twins > 0 ? { twinOf: Int32Array.from(twinOf) } : {}),
  };
}
