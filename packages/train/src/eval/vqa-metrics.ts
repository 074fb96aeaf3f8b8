/**
 * Scoring short answers as the VQA evaluation does (Antol et al. 2015; the official `vqaEval.py` of the VQA challenge's
 * Python evaluation tools): the answer is normalised, then compared by exact match with the reference. With one
 * reference answer per question (the scene tasks' answers are known by construction) VQA's "min(#humans that said it /
 * 3, 1)" is exact match.
 *
 * The normalisation ({@link normalizeVqaAnswer}), in the official order: newlines and tabs become spaces and the ends
 * are trimmed; punctuation: each of `; / [ ] " { } ( ) = + \ _ - > < @ \` , ? !` is deleted where it touches a space or
 * when the answer has a comma between digits ("1,000"), and becomes a space elsewhere; a full stop not followed by a
 * digit is deleted ("3.5" keeps its point); then per word: lowercase, number words zero to ten become digits ("none" is
 * 0), the articles a, an, the are dropped, and apostrophe-less contractions get their apostrophe back ("dont" ->
 * "don't"); words are joined by single spaces.
 */
import type { SceneTask } from '../data/scene-instructions';

const PUNCTUATION = [';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'];

const NUMBER_WORDS: Record<string, string> = {
  none: '0', zero: '0', one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7', eight: '8', nine: '9', ten: '10',
};

const ARTICLES = new Set(['a', 'an', 'the']);

/**
 * Apostrophe-less contractions and their spelling (the kind of entries of vqaEval.py's `contractions` table; the common
 * ones). A word is looked up after lowercasing.
 */
const CONTRACTIONS: Record<string, string> = Object.fromEntries([
  "ain't", "aren't", "can't", "could've", "couldn't", "didn't", "doesn't", "don't", "hadn't", "hasn't", "haven't", "he'd", "he'll",
  "he's", "how'd", "how'll", "how's", "i'd", "i'll", "i'm", "i've", "isn't", "it'd", "it'll", "let's", "might've", "mightn't",
  "must've", "mustn't", "shan't", "she'd", "she'll", "she's", "should've", "shouldn't", "that's", "there's", "they'd", "they'll",
  "they're", "they've", "wasn't", "we'd", "we're", "we've", "weren't", "what's", "where's", "who's", "won't", "would've",
  "wouldn't", "you'd", "you'll", "you're", "you've",
].map((c) => [c.replace(/'/g, ''), c]).filter(([bare]) => !['hell', 'ill', 'shell', 'well', 'wed', 'were', 'its', 'lets', 'id'].includes(bare)));

const DIGIT_COMMA = /\d,\d/;
const FULL_STOP = /\.(?!\d)/g;

/** The VQA evaluation's punctuation step (see the module comment). */
function processPunctuation(text: string): string {
  let out = text;
  for (const p of PUNCTUATION) {
    const drop = text.includes(`${p} `) || text.includes(` ${p}`) || DIGIT_COMMA.test(text);
    out = out.split(p).join(drop ? '' : ' ');
  }
  return out.replace(FULL_STOP, '');
}

/**
 * An answer normalised as the VQA evaluation normalises answers (see the module comment): "Two." -> "2",
 * "the top-left" -> "top left", "A Bag!" -> "bag", "dont know" -> "don't know".
 */
export function normalizeVqaAnswer(answer: string): string {
  const text = processPunctuation(answer.replace(/[\n\t]/g, ' ').trim());
  const words: string[] = [];
  for (const raw of text.toLowerCase().split(/\s+/)) {
    if (!raw) continue;
    const word = NUMBER_WORDS[raw] ?? raw;
    if (ARTICLES.has(word)) continue;
    words.push(CONTRACTIONS[word] ?? word);
  }
  return words.join(' ');
}

/** Whether `prediction` equals `reference` after {@link normalizeVqaAnswer}. */
export function vqaExactMatch(prediction: string, reference: string): boolean {
  return normalizeVqaAnswer(prediction) === normalizeVqaAnswer(reference);
}

/**
 * The fraction of predictions that match their reference ({@link vqaExactMatch}).
 * @throws RangeError when the lists differ in length or are empty
 */
export function vqaAccuracy(predictions: readonly string[], references: readonly string[]): number {
  if (predictions.length !== references.length) throw new RangeError(`vqaAccuracy: ${predictions.length} predictions for ${references.length} references`);
  if (references.length === 0) throw new RangeError('vqaAccuracy: no questions to score');
  return predictions.filter((p, i) => vqaExactMatch(p, references[i])).length / references.length;
}

/**
 * The accuracy of always giving `answer` ({@link vqaAccuracy} of a constant prediction): the majority-answer baseline
 * of a task when `answer` is its majority answer (data/scene-instructions `majorityAnswers`).
 * @throws RangeError when there are no references
 */
export function constantAnswerAccuracy(answer: string, references: readonly string[]): number {
  return vqaAccuracy(references.map(() => answer), references);
}

/** The accuracy of one task's held-out set and of its majority-answer baseline. */
export interface TaskAccuracy {
  accuracy: number;
  /** always answering the task's majority answer (absent for tasks without one: captions, descriptions) */
  majorityAccuracy?: number;
  questions: number;
}

/**
 * Accuracy per task of generated answers against the held-out references, beside the majority-answer baseline.
 * @param answers per task, the generated answers in the order of `references[task]`
 * @param majority the majority answer per task (data/instruction-batches `InstructionData.majority`)
 * @throws RangeError when a task's answers and references differ in length, or a task of `answers` has no references
 */
export function accuracyByTask(
  answers: Partial<Record<SceneTask, readonly string[]>>, references: Partial<Record<SceneTask, readonly string[]>>,
  majority: Partial<Record<SceneTask, string>> = {},
): Partial<Record<SceneTask, TaskAccuracy>> {
  const out: Partial<Record<SceneTask, TaskAccuracy>> = {};
  for (const [task, said] of Object.entries(answers) as [SceneTask, readonly string[]][]) {
    const refs = references[task];
    if (!refs) throw new RangeError(`accuracyByTask: no references for task '${task}'`);
    const m = majority[task];
    out[task] = { accuracy: vqaAccuracy(said, refs), ...(m !== undefined ? { majorityAccuracy: constantAnswerAccuracy(m, refs) } : {}), questions: refs.length };
  }
  return out;
}
