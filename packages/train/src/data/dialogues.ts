/**
 * Text dialogues for instruction-tuning a language model into a chat LM (issue 16, "A chat LM"; the Vicuna step):
 * single-turn exchanges with answers known by construction, in four kinds.
 * - `scene`: a scene's layout caption given as text, then a short-answer question about it (how many, where, what is in
 *   a cell, what is left of / above an item: data/scenes `sceneQuestions` without its yes/no ones).
 * - `definition`: "What does X mean?" answered with the WordNet gloss's definition (the gloss before its examples).
 * - `shortAnswer`: "Which word means: {definition}?" answered with the synset's first word.
 * - `yesNo`: "Is there a bag?" / "Is the bag to the left of the coat?" about a scene given as text, or "Does X mean:
 *   {definition}?" with its own or another synset's definition. Answers `Yes` / `No` alternate, so they are balanced.
 *
 * Held out: the WordNet glosses the text corpus holds out (data/text-corpus `splitHeldOut` over the same ids
 * `wordnet:<pos>:<offset>`), and the scene layouts whose canonical description hashes into the first 10%
 * ({@link isHeldOutLayout}); training dialogues use neither. The held-out questions come from a fixed seed
 * ({@link HELD_OUT_SEED}), whatever the config's: the held-out yes/no set is the same for every run.
 */
import { createHash } from 'crypto';
import { Rng } from '@mmzoo/core';
import { FMNIST_SHORT_NAMES } from './fmnist-classes';
import { describeScene, drawLayout, layoutCaption, QaPair, SceneGrid } from './scenes';
import { HELD_OUT_FRACTION, splitHeldOut } from './text-corpus';
import { readWordNetGlosses, WORDNET_DATA_FILES, WordNetGloss, WordNetPos, wordnetDir } from './wordnet';
import type { ChatTurn } from './chat-templates';

/** The kinds of dialogue (see the module comment). */
export const DIALOGUE_KINDS = ['scene', 'definition', 'shortAnswer', 'yesNo'] as const;

/** One of {@link DIALOGUE_KINDS}. */
export type DialogueKind = (typeof DIALOGUE_KINDS)[number];

/** One dialogue: its kind, what it is about (a scene or a WordNet gloss) and its turns (one). */
export interface Dialogue {
  kind: DialogueKind;
  source: 'scene' | 'wordnet';
  turns: ChatTurn[];
}

/** The seed of the held-out questions (fixed: every run is scored on the same questions). */
export const HELD_OUT_SEED = 20231;

/** The scene grid of the dialogues (the scenes' default 2x2: 2-4 items). */
export const DIALOGUE_GRID: SceneGrid = { rows: 2, cols: 2 };

/** The glosses a definition may come from: those whose definition has 3 to 160 characters (most of WordNet). */
const MAX_DEFINITION = 160;

/**
 * Whether a scene layout is held out: the first 8 hex digits of the SHA-256 of `scene:<canonical description>`, read
 * as a fraction of 2^32, below {@link HELD_OUT_FRACTION}. Depends on the layout only.
 */
export function isHeldOutLayout(canonical: string): boolean {
  return parseInt(createHash('sha256').update(`scene:${canonical}`).digest('hex').slice(0, 8), 16) / 2 ** 32 < HELD_OUT_FRACTION;
}

/** A WordNet synset as a dialogue sees it: its words and its definition. */
export interface Definition {
  id: string;
  word: string;
  definition: string;
}

/** The definition of a gloss: its text before the first `;` (the examples follow it), quotes and spaces trimmed. */
export function glossDefinition(gloss: string): string {
  return gloss.split(';')[0].replace(/^["\s]+|["\s]+$/g, '').trim();
}

/**
 * Every WordNet synset with a definition of 3 to 160 characters, split as the text corpus splits the glosses
 * (`splitHeldOut` on `wordnet:<pos>:<offset>`): a held-out definition's gloss is a held-out document of the text corpus.
 * @throws Error as `readWordNetGlosses` (naming the file)
 */
export function loadDefinitions(dir = wordnetDir()): { train: Definition[]; heldOut: Definition[] } {
  const all = (Object.keys(WORDNET_DATA_FILES) as WordNetPos[]).flatMap((pos) => readWordNetGlosses(pos, dir).map((g: WordNetGloss) => ({
    id: `wordnet:${pos}:${g.offset}`, word: g.lemmas[0], definition: glossDefinition(g.gloss),
  })));
  const split = splitHeldOut(all);
  const usable = (d: Definition) => d.definition.length >= 3 && d.definition.length <= MAX_DEFINITION;
  return { train: split.train.filter(usable), heldOut: split.heldOut.filter(usable) };
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A scene layout drawn from `rng` whose held-out status is `heldOut` (drawn again until it is), with its caption and questions. */
function sceneOf(rng: Rng, heldOut: boolean): { caption: string; qa: QaPair[] } {
  const classes = FMNIST_SHORT_NAMES.map((_, label) => label);
  for (;;) {
    const items = drawLayout(rng.fork('layout'), DIALOGUE_GRID, classes, 2, 4);
    const scene = describeScene(items, DIALOGUE_GRID, rng.fork('text'), 0, 'layout');
    if (isHeldOutLayout(scene.canonical) === heldOut) return { caption: layoutCaption(scene.items, DIALOGUE_GRID), qa: scene.qa };
    rng = rng.fork('again');
  }
}

/** What one dialogue is drawn from. */
export interface DialogueSources {
  /** the definitions of this split */
  definitions: readonly Definition[];
  /** scene layouts of this split (true: held out) */
  heldOut: boolean;
}

const isYesNo = (qa: QaPair) => qa.answer === 'yes' || qa.answer === 'no';

function sceneTurn(caption: string, qa: QaPair): ChatTurn {
  return { user: `${capitalise(caption)}\n${capitalise(qa.question)}`, assistant: capitalise(qa.answer) };
}

/**
 * One dialogue of `kind` drawn from `rng`.
 * @param yes for `yesNo`: the answer to draw (Yes or No)
 * @param fromScene for `yesNo`: a scene question (else a definition one)
 */
export function drawDialogue(kind: DialogueKind, src: DialogueSources, rng: Rng, yes = true, fromScene = true): Dialogue {
  if (kind === 'scene' || (kind === 'yesNo' && fromScene)) {
    const { caption, qa } = sceneOf(rng.fork('scene'), src.heldOut);
    const pool = qa.filter((q) => (kind === 'scene' ? !isYesNo(q) : q.answer === (yes ? 'yes' : 'no')));
    return { kind, source: 'scene', turns: [sceneTurn(caption, rng.choice(pool))] };
  }
  const d = rng.choice(src.definitions);
  if (kind === 'definition') return { kind, source: 'wordnet', turns: [{ user: `What does "${d.word}" mean?`, assistant: capitalise(d.definition) }] };
  if (kind === 'shortAnswer') return { kind, source: 'wordnet', turns: [{ user: `Which word means: ${d.definition}?`, assistant: capitalise(d.word) }] };
  let other = d;
  while (!yes && other.definition === d.definition) other = rng.choice(src.definitions);
  return { kind, source: 'wordnet', turns: [{ user: `Does "${d.word}" mean: ${other.definition}?`, assistant: yes ? 'Yes' : 'No' }] };
}

/** The share of each kind among the training dialogues (relative weights). */
export type DialogueMix = Record<DialogueKind, number>;

/**
 * `count` training dialogues, a pure function of the sources and `seed`: dialogue i draws its kind by the weights of
 * `mix` and its content from `new Rng(seed).fork(i)`; the k-th yes/no one answers Yes for even k, No for odd k, and
 * asks about a scene unless `fork(i)` draws a definition question (with probability `glossYesNo`).
 * @throws Error when every weight is 0 or one is negative, or a kind with weight has nothing to draw from
 */
export function trainingDialogues(src: DialogueSources, count: number, seed: number, mix: DialogueMix, glossYesNo = 0.25): Dialogue[] {
  const kinds = DIALOGUE_KINDS.filter((k) => mix[k] > 0);
  const total = kinds.reduce((s, k) => s + mix[k], 0);
  if (DIALOGUE_KINDS.some((k) => mix[k] < 0) || total <= 0) throw new Error(`dialogue mix: weights must be >= 0 with a positive sum, got ${JSON.stringify(mix)}`);
  if (src.definitions.length < 2 && kinds.some((k) => k !== 'scene')) throw new Error('dialogue mix: the WordNet kinds need at least two definitions');
  const root = new Rng(seed);
  const out: Dialogue[] = [];
  let yesNo = 0;
  for (let i = 0; i < count; i++) {
    const rng = root.fork(i);
    let u = rng.next() * total;
    const kind = kinds.find((k) => (u -= mix[k]) < 0) ?? kinds[kinds.length - 1];
    const yes = kind === 'yesNo' ? yesNo++ % 2 === 0 : true;
    out.push(drawDialogue(kind, src, rng, yes, rng.next() >= glossYesNo));
  }
  return out;
}

/**
 * The fixed held-out evaluation questions ({@link HELD_OUT_SEED}): `yesNo` questions, alternately Yes and No, the
 * first `sceneYesNo` of them about held-out scenes and the rest about held-out definitions; and `shortAnswers`
 * short-answer questions about held-out scenes. The first n of a longer set equal a shorter set's.
 */
export function heldOutQuestions(definitions: readonly Definition[], counts: { yesNo: number; sceneYesNo: number; shortAnswers: number }): { yesNo: Dialogue[]; shortAnswers: Dialogue[] } {
  const src: DialogueSources = { definitions, heldOut: true };
  const root = new Rng(HELD_OUT_SEED);
  const yesNo = Array.from({ length: counts.yesNo }, (_, k) => drawDialogue('yesNo', src, root.fork(`yes-no-${k}`), k % 2 === 0, k < counts.sceneYesNo));
  const shortAnswers = Array.from({ length: counts.shortAnswers }, (_, k) => drawDialogue('scene', src, root.fork(`short-${k}`)));
  return { yesNo, shortAnswers };
}
