/**
 * The `chat` evaluation task: a chat LM on the fixed held-out questions of the dialogue dataset (data/dialogues.ts).
 * Yes/no questions are answered by comparing the model's log-probabilities of the answers ` Yes` and ` No` after the
 * prompt (the template's prompt up to the assistant's colon); short-answer scene questions are answered greedily and
 * scored by exact match. Each is reported beside the majority answer of the training dialogues of its kind; yes/no
 * beside chance (1/2) too.
 */
import { CausalLM, greedyGenerate, HFTokenizer, logSoftmax, tf } from '@mmzoo/core';
import { ChatTemplate, chatPieces } from '../data/chat-templates';
import { DialogueData, majorityAnswer, pieceIds } from '../data/dialogue-batches';
import type { Dialogue } from '../data/dialogues';
import { isDialogueData } from './datasets';
import type { Session } from './session';

/** A prompt and a continuation whose log-probability is wanted. */
export interface ScoredAnswer {
  prompt: readonly number[];
  answer: readonly number[];
}

/**
 * The log-probability of each answer after its prompt, log p(answer | prompt) = sum over the answer's ids of the
 * model's log-softmax at the position before each, in float32. Rows are right-padded (causal attention: a real
 * position never sees the padding after it) and run `batchSize` at a time.
 * @param prefixLm read each prompt as a prefix LM's prefix (bidirectionally: CausalLmForwardOptions `prefixLength`,
 *   GLM), as such a model trains; default false: causal
 * @returns one natural-log probability per row
 * @throws Error when a prompt or answer is empty, or a row is longer than the model's context (maxSeqLen)
 */
export function answerLogProbs(model: CausalLM, rows: readonly ScoredAnswer[], batchSize = 32, prefixLm = false): number[] {
  const out: number[] = [];
  for (let s = 0; s < rows.length; s += batchSize) {
    const batch = rows.slice(s, s + batchSize);
    const seqs = batch.map((r, i) => {
      if (r.prompt.length === 0 || r.answer.length === 0) throw new Error(`answerLogProbs: row ${s + i} has an empty prompt or answer`);
      const ids = [...r.prompt, ...r.answer];
      if (ids.length > model.maxSeqLen) throw new Error(`answerLogProbs: row ${s + i} has ${ids.length} ids, more than the context length ${model.maxSeqLen}`);
      return ids;
    });
    const width = Math.max(...seqs.map((q) => q.length));
    const where: number[][] = [];
    batch.forEach((r, b) => r.answer.forEach((id, j) => where.push([b, r.prompt.length - 1 + j, id])));
    const picked = tf.tidy(() => {
      const ids = tf.tensor2d(seqs.map((q) => [...q, ...new Array<number>(width - q.length).fill(0)]), [seqs.length, width], 'int32');
      const prefixLength = prefixLm ? batch.map((r) => r.prompt.length) : undefined;
      return tf.gatherND(logSoftmax(model.forward(ids, { prefixLength }).logits), tf.tensor2d(where, [where.length, 3], 'int32'));
    });
    const values = picked.dataSync();
    picked.dispose();
    let k = 0;
    for (const r of batch) {
      let sum = 0;
      for (let j = 0; j < r.answer.length; j++) sum += values[k++];
      out.push(sum);
    }
  }
  return out;
}

/** The yes/no metrics of predictions (true: Yes) against the answers, by source, beside the majority answer and chance. */
export function yesNoMetrics(
  questions: readonly { yes: boolean; source: Dialogue['source'] }[], predictedYes: readonly boolean[], majorityYes: boolean,
): Record<string, number> {
  const acc = (keep: (i: number) => boolean): number | undefined => {
    const idx = questions.map((_, i) => i).filter(keep);
    return idx.length ? idx.filter((i) => predictedYes[i] === questions[i].yes).length / idx.length : undefined;
  };
  const scene = acc((i) => questions[i].source === 'scene');
  const definition = acc((i) => questions[i].source === 'wordnet');
  return {
    yesNoAccuracy: acc(() => true) ?? 0,
    yesNoMajorityAccuracy: questions.filter((q) => q.yes === majorityYes).length / questions.length,
    yesNoChanceAccuracy: 0.5,
    yesNoYesRatio: predictedYes.filter(Boolean).length / questions.length,
    yesNoQuestions: questions.length,
    ...(scene !== undefined ? { yesNoSceneAccuracy: scene } : {}),
    ...(definition !== undefined ? { yesNoDefinitionAccuracy: definition } : {}),
  };
}

/** An answer as exact match compares it: lower case, surrounding spaces and a final full stop removed. */
export function normaliseAnswer(a: string): string {
  return a.trim().toLowerCase().replace(/\.$/, '').trim();
}

/** The answer text of generated ids: up to the end id, decoded, cut at the template's end text (`###`). */
function answerText(tokenizer: HFTokenizer, ids: readonly number[], template: ChatTemplate): string {
  const end = ids.indexOf(tokenizer.endId!);
  const text = tokenizer.inner.decode(Array.from(end < 0 ? ids : ids.slice(0, end)), { skip_special_tokens: true });
  return template.end === 'eos' ? text : text.split(template.end)[0];
}

/** The most ids a short answer is generated to (scene answers are one to three words). */
const SHORT_ANSWER_TOKENS = 8;

/**
 * Greedy short answers to `questions` (the prompt of each in `template`), compared with their answers by exact match
 * after {@link normaliseAnswer}.
 * @returns the fraction answered exactly
 */
export function shortAnswerExactMatch(model: CausalLM, tokenizer: HFTokenizer, template: ChatTemplate, questions: readonly Dialogue[], batchSize = 32): number {
  let right = 0;
  for (let s = 0; s < questions.length; s += batchSize) {
    const batch = questions.slice(s, s + batchSize);
    const prompts = batch.map((d) => Array.from(pieceIds(tokenizer, chatPieces(template, d.turns, true)).ids));
    const longest = Math.max(...prompts.map((p) => p.length));
    const { ids } = greedyGenerate(model, prompts, { maxNewTokens: Math.min(SHORT_ANSWER_TOKENS, model.maxSeqLen - longest), padId: tokenizer.padId });
    batch.forEach((d, i) => {
      const said = answerText(tokenizer, ids[i].slice(prompts[i].length), template);
      if (normaliseAnswer(said) === normaliseAnswer(d.turns[d.turns.length - 1].assistant)) right++;
    });
  }
  return right / questions.length;
}

/**
 * The metrics of the `chat` task (core `EVAL_TASK_COLUMNS.chat`) on a dialogue session's held-out questions, each
 * rendered in the session's first template: `yesNoAccuracy` (and `yesNoSceneAccuracy`, `yesNoDefinitionAccuracy` by
 * what the question is about), `yesNoMajorityAccuracy` (always giving the training yes/no questions' most frequent
 * answer), `yesNoChanceAccuracy` (0.5), `yesNoYesRatio` (how often the model says Yes), `yesNoQuestions`;
 * `shortAnswerExactMatch` of greedy answers, `shortAnswerMajorityExactMatch` (always the most frequent training scene
 * answer) and `shortAnswerQuestions` when there are short-answer questions. Questions longer than the model's context
 * are left out (the counts say how many were asked). No metrics (n/a) for other data.
 * @throws Error when the tokenizer is not an HFTokenizer with an end id, or as {@link answerLogProbs}
 */
export function chatMetrics(model: CausalLM, s: Pick<Session, 'data' | 'tokenizer'>): Record<string, number> {
  if (!isDialogueData(s.data)) return {};
  const data: DialogueData = s.data;
  const tok = s.tokenizer;
  if (!(tok instanceof HFTokenizer) || tok.endId === undefined) throw new Error("evaluation task 'chat' needs a tokenizer with an end-of-text id");
  const template = data.templates[0];
  const encode = (text: string) => tok.inner.encode(text, { add_special_tokens: false }).ids;
  const [yesIds, noIds] = [encode(' Yes'), encode(' No')];
  const promptOf = (d: Dialogue) => Array.from(pieceIds(tok, chatPieces(template, d.turns, true)).ids);
  // questions whose prompt and answer exceed the context are left out (with a small tokenizer and a short context)
  const yesNo = data.heldOut.yesNo.map((d) => ({ d, prompt: promptOf(d) }))
    .filter((q) => q.prompt.length + Math.max(yesIds.length, noIds.length) <= model.maxSeqLen);
  if (yesNo.length === 0) return {};
  const lp = answerLogProbs(model, yesNo.flatMap(({ prompt }) => [{ prompt, answer: yesIds }, { prompt, answer: noIds }]));
  const predictedYes = yesNo.map((_, i) => lp[2 * i] > lp[2 * i + 1]);
  const questions = yesNo.map(({ d }) => ({ yes: d.turns[0].assistant === 'Yes', source: d.source }));
  const out = yesNoMetrics(questions, predictedYes, majorityAnswer(data.train.filter((d) => d.kind === 'yesNo')) !== 'No');
  const short = data.heldOut.shortAnswers.filter((d) => promptOf(d).length < model.maxSeqLen);
  if (short.length === 0) return out;
  const majority = normaliseAnswer(majorityAnswer(data.train.filter((d) => d.kind === 'scene')) ?? '');
  return {
    ...out,
    shortAnswerExactMatch: shortAnswerExactMatch(model, tok, template, short),
    shortAnswerMajorityExactMatch: short.filter((d) => normaliseAnswer(d.turns[0].assistant) === majority).length / short.length,
    shortAnswerQuestions: short.length,
  };
}
