/**
 * Scene instruction data (issue 17, "Scene instruction data"): image-conditioned tasks about the compositional scenes
 * (data/scenes.ts), answers known by construction, worded for one bridge system's layout (data/instruction-templates).
 *
 * Tasks ({@link SCENE_TASKS}): `caption` (the scene's layout caption, "top left: a sneaker, top right: a bag."),
 * `description` (several sentences: how many items, each item's cell and its neighbour, the empty cells:
 * {@link sceneDescription}), `conversation` (two or three held-in questions about one scene, chat templates only), and
 * one task per question kind of data/scenes `sceneQuestions`: `cell`, `location`, `exists` (yes / no), `count`,
 * `neighbour`, `relation` (yes / no). Yes/no answers are balanced: the k-th yes/no sample of a task answers yes for
 * even k and no for odd k.
 *
 * Held-in and held-out task groups, as InstructBLIP splits its datasets (Dai et al. 2023, section 2.2): instruction
 * tuning sees {@link HELD_IN_TASKS} (captions, descriptions, conversations, what is in a cell, where is an item, is
 * there an X); {@link HELD_OUT_TASKS} (how many items, what is next to an item, is A left of / above B: counting and
 * spatial relations, skills no held-in task asks for) are only evaluated, zero-shot, in their own unseen templates
 * (`heldOutQuestion` wordings). `data.instructions.tasks: all` trains on every task (BLIP-2's VQA fine-tuning).
 *
 * Training samples come from scenes of the training images; the held-out sets ({@link heldOutInstructions}) from
 * scenes of the test images, drawn with a fixed seed ({@link INSTRUCTION_HELD_OUT_SEED}) whatever the config's.
 */
import { Rng } from '@mmzoo/core';
import { FMNIST_SHORT_NAMES, articleFor } from './fmnist-classes';
import type { ChatTurn } from './chat-templates';
import { INSTRUCTION_WORDINGS, InstructionTemplateName, WordingGroup, isMultiTurn } from './instruction-templates';
import { mostFrequent } from './dialogue-batches';
import { QaPair, SCENE_QUESTION_KINDS, Scene, SceneGrid, SceneItem, SceneQuestionKind, positionName } from './scenes';

/** Every task of the scene instruction data (see the module comment). */
export const SCENE_TASKS = ['caption', 'description', 'conversation', 'cell', 'location', 'exists', 'count', 'neighbour', 'relation'] as const;

/** One of {@link SCENE_TASKS}. */
export type SceneTask = (typeof SCENE_TASKS)[number];

/** The tasks instruction tuning trains on (InstructBLIP's held-in group). */
export const HELD_IN_TASKS: readonly SceneTask[] = ['caption', 'description', 'conversation', 'cell', 'location', 'exists'];

/** The tasks only evaluated, zero-shot, in templates never trained on (InstructBLIP's held-out group). */
export const HELD_OUT_TASKS: readonly SceneTask[] = ['count', 'neighbour', 'relation'];

/** The question tasks whose answers are yes or no (balanced). */
export const YES_NO_TASKS: readonly SceneTask[] = ['exists', 'relation'];

/** The seed of the held-out sets (fixed: every run is scored on the same questions). */
export const INSTRUCTION_HELD_OUT_SEED = 20240917;

/** One example: a scene, a task, its turns in a layout's wording, and what an instruction-aware Q-Former reads. */
export interface SceneInstruction {
  task: SceneTask;
  /** index of the scene (and its image) in the scene set it was drawn from */
  scene: number;
  /** `user`: the instruction as the layout words it, without the image; `assistant`: the answer (the target) */
  turns: ChatTurn[];
  /**
   * the text of the `text` key (BERT-style tokenizer): the first instruction as worded (InstructBLIP: the instruction
   * goes to the Q-Former too); for `blip2_opt` the bare question (section 4.3), '' for a caption
   */
  qformer: string;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function cellPhrase(item: { row: number; col: number }, grid: SceneGrid): string {
  const name = positionName(item.row, item.col, grid);
  return name.startsWith('row ') ? `in ${name}` : `in the ${name}`;
}

const COUNT_WORDS = ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/**
 * A detailed description of a layout in fixed wording, one sentence per fact: the number of items; each item in
 * reading order with its cell and, when an earlier item shares its row or column, where it is relative to the nearest
 * such one; then the empty cells. E.g. "There are three items in the picture. A sneaker is in the top left. A bag is in
 * the top right, to the right of the sneaker. A dress is in the bottom left, below the sneaker. The bottom right is
 * empty." Names are the short class names.
 * @param items in reading order (as `Scene.items`)
 */
export function sceneDescription(items: readonly SceneItem[], grid: SceneGrid): string {
  const name = (label: number) => FMNIST_SHORT_NAMES[label];
  const n = items.length;
  const out = [`There ${n === 1 ? 'is' : 'are'} ${COUNT_WORDS[n] ?? n} item${n === 1 ? '' : 's'} in the picture.`];
  items.forEach((it, i) => {
    let relation = '';
    for (let j = i - 1; j >= 0 && !relation; j--) {
      const o = items[j];
      if (o.row === it.row) relation = `, to the right of the ${name(o.label)}`;
      else if (o.col === it.col) relation = `, below the ${name(o.label)}`;
    }
    out.push(`${capitalise(articleFor(name(it.label)))} ${name(it.label)} is ${cellPhrase(it, grid)}${relation}.`);
  });
  const empty: string[] = [];
  for (let row = 0; row < grid.rows; row++) {
    for (let col = 0; col < grid.cols; col++) {
      if (!items.some((it) => it.row === row && it.col === col)) empty.push(cellPhrase({ row, col }, grid).replace(/^in /, ''));
    }
  }
  if (empty.length) {
    const list = empty.length === 1 ? empty[0] : `${empty.slice(0, -1).join(', ')} and ${empty[empty.length - 1]}`;
    out.push(`${capitalise(list)} ${empty.length === 1 ? 'is' : 'are'} empty.`);
  }
  return out.join(' ');
}

/**
 * What a Q-Former reads of an instruction worded `user`: the instruction itself (InstructBLIP), or for `blip2_opt` the
 * question inside "Question: {} Answer:" (section 4.3 gives the Q-Former the question), '' for its caption prompt.
 */
export function qformerText(template: InstructionTemplateName, user: string): string {
  if (template !== 'blip2_opt') return user;
  return /^Question: (.*) Answer:$/.exec(user)?.[1] ?? '';
}

/** The wording group of a task: captions, descriptions, and held-in or held-out questions. */
function wordingGroup(task: SceneTask): WordingGroup {
  if (task === 'caption' || task === 'description') return task;
  return HELD_OUT_TASKS.includes(task) ? 'heldOutQuestion' : 'question';
}

/** The answer as a layout writes it: capitalised in the chat templates, as is in the VQA layouts. */
function answerText(template: InstructionTemplateName, answer: string): string {
  return isMultiTurn(template) ? capitalise(answer) : answer;
}

/** One question turn: the question in a wording of `group` drawn from `rng`. */
function questionTurn(template: InstructionTemplateName, group: WordingGroup, qa: QaPair, rng: Rng): ChatTurn {
  const question = capitalise(qa.question);
  return { user: rng.choice(INSTRUCTION_WORDINGS[template][group]).replace('{}', question), assistant: answerText(template, qa.answer) };
}

/**
 * One example of `task` about `scene` (index `index` of its set), worded for `template` with draws from `rng`; for a
 * yes/no task `yes` picks the answer.
 * @returns undefined when the scene has no question of that task with that answer (e.g. no two items in a row)
 * @throws Error for `conversation` in a single-turn layout
 */
export function drawInstruction(template: InstructionTemplateName, task: SceneTask, scene: Scene, index: number, grid: SceneGrid, rng: Rng, yes = true): SceneInstruction | undefined {
  const words = INSTRUCTION_WORDINGS[template];
  if (task === 'caption' || task === 'description') {
    const target = task === 'caption' ? scene.captions[0] : sceneDescription(scene.items, grid);
    const user = rng.choice(words[task]);
    return { task, scene: index, turns: [{ user, assistant: isMultiTurn(template) ? capitalise(target) : target }], qformer: qformerText(template, user) };
  }
  if (task === 'conversation') {
    if (!isMultiTurn(template)) throw new Error(`drawInstruction: template '${template}' renders one turn; conversations need minigpt4 or llava_v1`);
    const pool = scene.qa.filter((q) => HELD_IN_TASKS.includes(q.kind));
    const picked = rng.shuffle([...pool]).slice(0, 2 + rng.int(2));
    const turns = picked.map((q) => questionTurn(template, 'question', q, rng));
    return { task, scene: index, turns, qformer: turns[0].user };
  }
  const kind: SceneQuestionKind = task;
  const pool = scene.qa.filter((q) => q.kind === kind && (!YES_NO_TASKS.includes(task) || q.answer === (yes ? 'yes' : 'no')));
  if (pool.length === 0) return undefined;
  const qa = rng.choice(pool);
  const turn = questionTurn(template, wordingGroup(task), qa, rng);
  return { task, scene: index, turns: [turn], qformer: qformerText(template, turn.user) };
}

/** Relative weights of the tasks among those a run trains on. */
export type SceneTaskMix = Record<SceneTask, number>;

/**
 * The tasks a run trains on with their weights: `heldIn` keeps {@link HELD_IN_TASKS}, `all` every task; a single-turn
 * layout has no conversations; tasks of weight 0 are dropped.
 * @throws Error when a weight is negative or no task is left with a positive weight
 */
export function trainingTasks(template: InstructionTemplateName, mix: SceneTaskMix, tasks: 'heldIn' | 'all'): SceneTask[] {
  if (SCENE_TASKS.some((t) => !(mix[t] >= 0))) throw new Error(`data.instructions.mix: weights must be >= 0, got ${JSON.stringify(mix)}`);
  const out = SCENE_TASKS.filter((t) => mix[t] > 0 && (tasks === 'all' || HELD_IN_TASKS.includes(t)) && (t !== 'conversation' || isMultiTurn(template)));
  if (out.length === 0) throw new Error(`data.instructions.mix: no task with a positive weight among the ${tasks === 'all' ? '' : 'held-in '}tasks of template '${template}'`);
  return out;
}

/**
 * Draws an example of `task`, yes/no answer `yes`, from scene `first` or, when that scene has no such question, the
 * next scene indices drawn from `rng` (at most 100 tries).
 * @throws Error when 100 scenes have none
 */
function drawFromScenes(template: InstructionTemplateName, task: SceneTask, scenes: readonly Scene[], grid: SceneGrid, rng: Rng, yes: boolean): SceneInstruction {
  for (let attempt = 0; attempt < 100; attempt++) {
    const index = rng.int(scenes.length);
    const got = drawInstruction(template, task, scenes[index], index, grid, rng.fork(attempt), yes);
    if (got) return got;
  }
  throw new Error(`scene instructions: no scene among 100 draws has a '${task}' question answered ${yes ? 'yes' : 'no'}`);
}

/**
 * `count` training examples over `scenes` (the training scenes), a pure function of its arguments and `seed`: example i
 * draws its task by the weights of `mix` over {@link trainingTasks} and its scene and wording from
 * `new Rng(seed).fork(i)`; the k-th example of a yes/no task answers yes for even k, no for odd k.
 * @throws Error as {@link trainingTasks}; when there are no scenes
 */
export function trainingInstructions(
  template: InstructionTemplateName, scenes: readonly Scene[], grid: SceneGrid, count: number, seed: number, mix: SceneTaskMix, tasks: 'heldIn' | 'all',
): SceneInstruction[] {
  if (scenes.length === 0) throw new Error('scene instructions: no training scenes');
  const chosen = trainingTasks(template, mix, tasks);
  const total = chosen.reduce((s, t) => s + mix[t], 0);
  const root = new Rng(seed);
  const yesNoSeen = new Map<SceneTask, number>();
  const out: SceneInstruction[] = [];
  for (let i = 0; i < count; i++) {
    const rng = root.fork(i);
    let u = rng.next() * total;
    const task = chosen.find((t) => (u -= mix[t]) < 0) ?? chosen[chosen.length - 1];
    const k = yesNoSeen.get(task) ?? 0;
    yesNoSeen.set(task, k + 1);
    out.push(drawFromScenes(template, task, scenes, grid, rng, k % 2 === 0));
  }
  return out;
}

/** The tasks with a held-out set: every task but conversations. */
export const EVALUATED_TASKS: readonly SceneTask[] = SCENE_TASKS.filter((t) => t !== 'conversation');

/**
 * The fixed held-out sets: `perTask` examples of every task of {@link EVALUATED_TASKS} over `scenes` (the test scenes),
 * from {@link INSTRUCTION_HELD_OUT_SEED}, yes/no answers alternating yes, no. The first n of a longer set equal a
 * shorter set's.
 * @throws Error when there are no scenes
 */
export function heldOutInstructions(template: InstructionTemplateName, scenes: readonly Scene[], grid: SceneGrid, perTask: number): Record<string, SceneInstruction[]> {
  if (scenes.length === 0) throw new Error('scene instructions: no test scenes');
  const root = new Rng(INSTRUCTION_HELD_OUT_SEED);
  return Object.fromEntries(EVALUATED_TASKS.map((task) => [
    task, Array.from({ length: perTask }, (_, k) => drawFromScenes(template, task, scenes, grid, root.fork(`${task}-${k}`), k % 2 === 0)),
  ]));
}

/**
 * The majority answer of each question task over `scenes` (the training scenes' question/answer pairs of that kind;
 * ties: the answer seen first): the prior a model that ignores the image can at best learn, also for the held-out
 * kinds (their answers are known by construction even though no example trains on them).
 */
export function majorityAnswers(scenes: readonly Scene[]): Partial<Record<SceneTask, string>> {
  const qa = scenes.flatMap((s) => s.qa);
  const out: Partial<Record<SceneTask, string>> = {};
  for (const kind of SCENE_QUESTION_KINDS) {
    const best = mostFrequent(qa.filter((q) => q.kind === kind).map((q) => q.answer));
    if (best !== undefined) out[kind] = best;
  }
  return out;
}

/**
 * The answer list of each question task: every distinct answer of that kind among `scenes`' question/answer pairs (the
 * training scenes), most frequent first (ties: the one seen first), as written in `template` (capitalised in the chat
 * layouts): the candidates that rank scoring chooses among, as BLIP's VQA ranks the training set's answer list and
 * InstructBLIP's `predict_class` a dataset's candidate classes. The held-out kinds have lists too: their answers are
 * known by construction even though no example trains on them.
 */
export function answerLists(template: InstructionTemplateName, scenes: readonly Scene[]): Partial<Record<SceneTask, string[]>> {
  const qa = scenes.flatMap((s) => s.qa);
  const out: Partial<Record<SceneTask, string[]>> = {};
  for (const kind of SCENE_QUESTION_KINDS) {
    const counts = new Map<string, number>();
    for (const q of qa) if (q.kind === kind) counts.set(q.answer, (counts.get(q.answer) ?? 0) + 1);
    // a stable sort keeps first-seen order among ties
    const list = [...counts.keys()].sort((a, b) => counts.get(b)! - counts.get(a)!);
    if (list.length) out[kind] = list.map((a) => answerText(template, a));
  }
  return out;
}
