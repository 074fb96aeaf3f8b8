/**
 * The `sceneVqa` evaluation task (issue 17, "Evaluation tasks"): a model that answers prompts about images
 * (core `ImagePromptedLM`: the Q-Former bridges, LLaVA) on the fixed held-out sets of `data.dataset: sceneInstructions`.
 */
import { IMAGE_TOKEN_INDEX, generateCausal, imagePromptRoom, tf } from '@mmzoo/core';
import type { CausalGenerateResult, ImagePromptedLM, ImagePromptOptions, TextTokenizer } from '@mmzoo/core';
import { EVALUATED_TASKS, HELD_IN_TASKS, HELD_OUT_TASKS, YES_NO_TASKS } from '../data/scene-instructions';
import type { SceneTask } from '../data/scene-instructions';
import { answerCandidateIds, instructionEvalSet } from '../data/instruction-batches';
import type { InstructionData, InstructionEvalSet } from '../data/instruction-batches';
import { answerStop } from '../data/instruction-templates';
import { accuracyByTask, vqaAccuracy } from '../eval/vqa-metrics';
import { captionScores } from '../eval/caption-metrics';
import type { Session } from './session';
import { isInstructionData } from './datasets';
import { answerLogProbs } from './chat-task';

/** The tasks answered by one short phrase and scored by exact match (the question kinds). */
const QUESTION_TASKS: readonly SceneTask[] = EVALUATED_TASKS.filter((t) => t !== 'caption' && t !== 'description');
/** Examples generated at once. */
const BATCH = 50;
/** New tokens allowed for captions and descriptions (questions use the model's `answer.maxNewTokens`). */
const LONG_ANSWER_TOKENS = 96;

/** Generation settings of one task: the stop id, the stop text of the layout, the token budget. */
interface AnswerSettings {
  tokenizer: TextTokenizer;
  template: InstructionData['template'];
  maxNewTokens?: number;
}

/**
 * Generates one answer per example with `run` in batches of {@link BATCH}: each row stops at the tokenizer's end id or
 * when its text holds the layout's end text (`###`, "\n"), and is cut there (data/instruction-templates `answerStop`).
 * @param run generates for the examples [from, to) given the settings
 * @returns the answers as scored
 */
function answerAll(count: number, s: AnswerSettings, run: (from: number, to: number, opts: ImagePromptOptions) => CausalGenerateResult): string[] {
  const out: string[] = [];
  for (let from = 0; from < count; from += BATCH) {
    const to = Math.min(count, from + BATCH);
    const stop = answerStop(s.template, s.tokenizer, to - from);
    const result = run(from, to, { stopIds: stop.stopIds, maxNewTokens: s.maxNewTokens, onToken: stop.onToken });
    result.tokens.forEach((ids) => out.push(stop.answer(ids)));
  }
  return out;
}

/** The images of examples [from, to) as float32 [n, C, H, W]. */
function imagesOf(set: InstructionEvalSet, from: number, to: number): tf.Tensor {
  const [c, h, w] = set.imageShape;
  const per = c * h * w;
  return tf.tensor4d(set.images.subarray(from * per, to * per), [to - from, c, h, w]);
}

/** The Q-Former instructions of examples [from, to) as int32 [n, Lq], when the set has them. */
function textOf(set: InstructionEvalSet, from: number, to: number): tf.Tensor | undefined {
  if (!set.text) return undefined;
  const lq = set.text.shape[1];
  return tf.tensor2d(set.text.ids.subarray(from * lq, to * lq), [to - from, lq], 'int32');
}

/**
 * Ranks one task's candidates for every example with `score` in batches of {@link BATCH}: each example's answer is its
 * candidate of highest log-probability (ties: the earlier, i.e. the more frequent in training).
 * @param score the log-probabilities of every candidate for the examples [from, to)
 */
function rankAll(count: number, answers: readonly string[], score: (from: number, to: number) => number[][]): string[] {
  const out: string[] = [];
  for (let from = 0; from < count; from += BATCH) {
    for (const row of score(from, Math.min(count, from + BATCH))) {
      let best = 0;
      row.forEach((v, j) => {
        if (v > row[best]) best = j;
      });
      out.push(answers[best]);
    }
  }
  return out;
}

/** The mean of the tasks' accuracies (each task weighs the same), or undefined without tasks. */
function meanOver(tasks: readonly SceneTask[], acc: Partial<Record<SceneTask, number | undefined>>): number | undefined {
  const values = tasks.map((t) => acc[t]).filter((v): v is number => v !== undefined);
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : undefined;
}

/**
 * Scene VQA metrics of a model on the held-out sets of its session's scene-instruction data (test scenes only). Each
 * question task (cell, location, exists, count, neighbour, relation) is answered two ways and scored by exact match
 * after VQA normalisation:
 * - ranked (`accuracy`, the primary figure): the candidate of the task's answer list (every answer of that kind in the
 *   training scenes) with the highest log-probability after the prompt and the image, each candidate's ids with the
 *   layout's end as trained (ImagePromptedLM.scoreAnswers; LAVIS InstructBLIP `predict_class`, BLIP's VQA ranking);
 * - generated (`generatedAccuracy`): open-ended, by the model's answer decoding, cut at the layout's end (LAVIS
 *   `predict_answers`);
 * each beside the training scenes' majority answer and the model's own language model given the same prompt without
 * the image (question only; ranked and generated likewise; a prefix LM reads the prompt as its prefix).
 * `vqaAccuracy` and its baselines are the means over the held-in question tasks (cell, location, exists), each task
 * weighing the same; `heldOutAccuracy` likewise over the held-out ones (count, neighbour, relation: unseen by
 * instruction tuning, InstructBLIP's zero-shot measure); `yesNoVqaAccuracy` over the yes/no tasks (ranked). Captions and
 * detailed descriptions are generated and scored by BLEU-4 and CIDEr-D against their reference. `vqaByTask` holds every
 * task's numbers, `vqaExamples` each task's first example (generated and, for questions, ranked answer) beside its
 * reference.
 * @returns the metrics, or none when the session's data is not `sceneInstructions`
 * @throws Error when the session lacks the `lm` tokenizer (or the `text` one for a model that reads instructions)
 */
export function sceneVqaMetrics(model: ImagePromptedLM, s: Pick<Session, 'data' | 'tokenizers' | 'inputs'>): Record<string, unknown> {
  const data = s.data;
  if (!isInstructionData(data)) return {};
  const lm = s.tokenizers.lm;
  if (!lm) throw new Error("evaluation task 'sceneVqa': the run has no lm tokenizer");
  const textTok = s.tokenizers.text;
  if (model.readsInstruction && !(textTok && s.inputs.text)) throw new Error("evaluation task 'sceneVqa': the model reads instructions and the run has no text tokenizer");
  const text = model.readsInstruction && textTok && s.inputs.text ? { tokenizer: textTok, contextLength: s.inputs.text.contextLength } : undefined;
  const generated: Partial<Record<SceneTask, string[]>> = {};
  const ranked: Partial<Record<SceneTask, string[]>> = {};
  const questionOnly: Partial<Record<SceneTask, string[]>> = {};
  const questionOnlyRanked: Partial<Record<SceneTask, string[]>> = {};
  const references: Partial<Record<SceneTask, string[]>> = {};
  const candidateCounts: Partial<Record<SceneTask, number>> = {};
  for (const task of EVALUATED_TASKS) {
    const set = instructionEvalSet(data, task, lm, text);
    references[task] = set.references;
    const long = !QUESTION_TASKS.includes(task);
    const withImages = <T>(from: number, to: number, f: (images: tf.Tensor, ids: tf.Tensor | undefined, prompts: number[][]) => T): T => {
      const images = imagesOf(set, from, to);
      const ids = textOf(set, from, to);
      try {
        return f(images, ids, set.prompts.slice(from, to).map((p) => [...p]));
      } finally {
        tf.dispose([images, ...(ids ? [ids] : [])]);
      }
    };
    // captions and descriptions get what the LM's context leaves after the longest prompt, at most LONG_ANSWER_TOKENS
    const room = imagePromptRoom(model, set.prompts.map((p) => p.length));
    const settings: AnswerSettings = { tokenizer: lm, template: data.template, maxNewTokens: long ? Math.min(LONG_ANSWER_TOKENS, room) : undefined };
    generated[task] = answerAll(set.prompts.length, settings, (from, to, opts) => withImages(from, to, (images, ids, prompts) => (
      model.generateFromImages(images, prompts, { ...opts, text: ids })
    )));
    if (long) continue;
    // the prompts with the image left out, for the frozen LM alone
    const bare = set.prompts.map((p) => [...p].filter((t) => t !== IMAGE_TOKEN_INDEX));
    const cands = answerCandidateIds(data, task, lm);
    candidateCounts[task] = cands.answers.length;
    ranked[task] = rankAll(set.prompts.length, cands.answers, (from, to) => withImages(from, to, (images, ids, prompts) => (
      model.scoreAnswers(images, prompts, cands.ids, { text: ids })
    )));
    questionOnlyRanked[task] = rankAll(set.prompts.length, cands.answers, (from, to) => {
      const rows = bare.slice(from, to).flatMap((prompt) => cands.ids.map((answer) => ({ prompt, answer })));
      const lp = answerLogProbs(model.lm, rows, 64, model.prefixLm === true);
      return bare.slice(from, to).map((_, i) => lp.slice(i * cands.ids.length, (i + 1) * cands.ids.length));
    });
    questionOnly[task] = answerAll(set.prompts.length, settings, (from, to, opts) => {
      const prompts = bare.slice(from, to);
      return generateCausal(model.lm, prompts, {
        strategy: 'greedy', maxNewTokens: opts.maxNewTokens ?? 10, minNewTokens: 1, stopIds: opts.stopIds, onToken: opts.onToken, padId: lm.padId,
        prefixLength: model.prefixLm ? prompts.map((p) => p.length) : undefined,
      });
    });
  }
  const pick = (answers: Partial<Record<SceneTask, string[]>>) => Object.fromEntries(QUESTION_TASKS.map((t) => [t, answers[t]!]));
  const byTask = accuracyByTask(pick(ranked), references, data.majority);
  const accOf = (answers: Partial<Record<SceneTask, string[]>>) => (
    Object.fromEntries(QUESTION_TASKS.map((t) => [t, vqaAccuracy(answers[t]!, references[t]!)])) as Partial<Record<SceneTask, number>>
  );
  const gen = accOf(generated);
  const qOnly = accOf(questionOnlyRanked);
  const qOnlyGen = accOf(questionOnly);
  const acc = (key: 'accuracy' | 'majorityAccuracy') => Object.fromEntries(QUESTION_TASKS.map((t) => [t, byTask[t]?.[key]])) as Partial<Record<SceneTask, number>>;
  const heldIn = QUESTION_TASKS.filter((t) => HELD_IN_TASKS.includes(t));
  const captions = (task: 'caption' | 'description') => captionScores(generated[task]!, references[task]!.map((r) => [r]));
  const cap = captions('caption');
  const desc = captions('description');
  return {
    vqaAccuracy: meanOver(heldIn, acc('accuracy')),
    vqaMajorityAccuracy: meanOver(heldIn, acc('majorityAccuracy')),
    vqaQuestionOnlyAccuracy: meanOver(heldIn, qOnly),
    vqaGeneratedAccuracy: meanOver(heldIn, gen),
    heldOutAccuracy: meanOver(HELD_OUT_TASKS, acc('accuracy')),
    heldOutMajorityAccuracy: meanOver(HELD_OUT_TASKS, acc('majorityAccuracy')),
    heldOutQuestionOnlyAccuracy: meanOver(HELD_OUT_TASKS, qOnly),
    heldOutGeneratedAccuracy: meanOver(HELD_OUT_TASKS, gen),
    yesNoVqaAccuracy: meanOver(YES_NO_TASKS, acc('accuracy')),
    captionBleu4: cap.bleu4, captionCider: cap.cider, descriptionBleu4: desc.bleu4, descriptionCider: desc.cider,
    vqaByTask: Object.fromEntries(QUESTION_TASKS.map((t) => [t, {
      ...byTask[t], generatedAccuracy: gen[t], questionOnlyAccuracy: qOnly[t], questionOnlyGeneratedAccuracy: qOnlyGen[t], candidates: candidateCounts[t],
    }])),
    vqaExamples: EVALUATED_TASKS.map((t) => ({
      task: t, answer: generated[t]![0], ...(ranked[t] ? { ranked: ranked[t]![0] } : {}), reference: references[t]![0],
    })),
  };
}
