/**
 * How each bridge system of issue 17 lays out an image-conditioned example for its language model, and the instruction
 * wordings it is trained and evaluated with (`data.instructions.template`). One renderer, {@link instructionPieces},
 * gives the pieces (data/chat-templates `ChatPiece`) of every layout; data/dialogue-batches `pieceIds` tokenizes them.
 *
 * - `blip2_opt`: LAVIS `blip2_opt` (Blip2OPT.forward): [image] then the OPT text, which starts with its bos (`</s>`): the
 *   prompt ("a photo of" for captions; "Question: {} Answer:" for questions, the paper's section 4.3 VQA prompt), then
 *   the target and "\n", the end Blip2OPT appends and stops generation on. One turn.
 * - `instructblip`: LAVIS `blip2_vicuna_instruct`: [image] then bos + the instruction (a template of the InstructBLIP
 *   paper's appendix, "<Image>" marking the image), then the answer and the LM's end token. One turn.
 * - `minigpt4`: bos + `###Human: <Img><ImageHere></Img> {instruction} ###Assistant: {answer}###` (MiniGPT-4's
 *   `prompt_template`, `end_sym`), the image at `<ImageHere>`; turns go on in the same wrap.
 * - `llava_v1`: LLaVA's v1 conversation with `<image>\n` before the first question; multi-turn.
 * - `visualglm`: THUDM VisualGLM-6B (finetune_visualglm.py, model/chat.py with `english=True`): bos + `<img>` [image]
 *   `</img>Q: {instruction}\nA:`, then the answer and the LM's end token. VisualGLM writes the image's 32 query outputs
 *   over 32 placeholders after `<img>`, asks in Chinese (`问：{}\n答：`; `Q:{}\nA:` in its English chat) and ends the
 *   context with ChatGLM's `[gMASK]<sop>`; here the English words, a space after `Q:` (the answer's space is the
 *   answer's, as in every layout), and the LLaMA stand-in's bos first, as its documents start. One turn.
 *
 * The answer's text starts with its space, as in data/chat-templates (the prompt ends at `Answer:`, the answer is
 * ` 3\n`), so that tokenizing piece by piece gives the ids of the whole text. Short answers are lowercase in the VQA
 * layouts (`blip2_opt`, `instructblip`, as VQA answers are) and capitalised in the chat templates (as the chat LM's
 * dialogues answer).
 */
import { CHAT_TEMPLATES, ChatPiece, ChatTurn, chatPieces } from './chat-templates';
import type { TextTokenizer } from '@mmzoo/core';

/** The layouts of `data.instructions.template` (see the module comment). */
export const INSTRUCTION_TEMPLATE_NAMES = ['blip2_opt', 'instructblip', 'minigpt4', 'llava_v1', 'visualglm'] as const;

/** One of {@link INSTRUCTION_TEMPLATE_NAMES}. */
export type InstructionTemplateName = (typeof INSTRUCTION_TEMPLATE_NAMES)[number];

/** Whether a layout renders conversations of several turns (the chat templates) or one instruction and its answer. */
export function isMultiTurn(template: InstructionTemplateName): boolean {
  return template === 'minigpt4' || template === 'llava_v1';
}

/**
 * The groups of wordings: `caption` (a short caption), `description` (a detailed description), `question` (the held-in
 * short-answer and yes/no questions, `{}` the question) and `heldOutQuestion` (the held-out question kinds: for
 * `instructblip` templates never used in training).
 */
export type WordingGroup = 'caption' | 'description' | 'question' | 'heldOutQuestion';

/**
 * InstructBLIP's VQA instruction templates (Dai et al. 2023, appendix, the VQA group), "<Image>" left out: the first five
 * word the held-in questions, the other five the held-out ones, so that held-out tasks are asked in templates unseen in
 * instruction tuning (as the paper's held-out datasets are).
 */
const INSTRUCTBLIP_VQA = [
  '{}', 'Question: {}', '{} A short answer to the question is', 'Q: {} A:', 'Question: {} Short answer:',
  'Given the image, answer the following question with no more than three words. {}',
  'Based on the image, respond to this question with a short answer: {}. Answer:',
  'Use the provided image to answer the question: {} Provide your answer as short as possible:',
  'What is the answer to the following question? "{}"',
  'The question "{}" can be answered using the image. A short answer is',
];

/**
 * The wordings of each layout and group (`{}`: the question). Sources: BLIP-2 (LAVIS caption prompt "a photo of",
 * the paper's VQA prompt); InstructBLIP (the appendix's captioning and VQA templates; its detailed description is
 * LLaVA-Instruct's "Describe the image in detail."); MiniGPT-4 (prompts/alignment.txt for descriptions); LLaVA (its
 * brief and detailed description instructions). Wordings not from a paper are mmzoo's.
 */
export const INSTRUCTION_WORDINGS: { readonly [T in InstructionTemplateName]: { readonly [G in WordingGroup]: readonly string[] } } = {
  blip2_opt: {
    caption: ['a photo of'],
    description: ['Question: Describe the image in detail. Answer:'],
    question: ['Question: {} Answer:'],
    heldOutQuestion: ['Question: {} Answer:'],
  },
  instructblip: {
    caption: ['A short image caption:', 'A short image description:', 'Write a short description for the image.', 'Briefly describe the content of the image.'],
    description: ['Describe the image in detail.', 'Write a detailed description of the image, one sentence per item.'],
    question: INSTRUCTBLIP_VQA.slice(0, 5),
    heldOutQuestion: INSTRUCTBLIP_VQA.slice(5),
  },
  minigpt4: {
    caption: ['Give a short caption of this image.', 'Name what is in each part of this image.'],
    description: ['Describe this image in detail.', 'Take a look at this image and describe what you notice.', 'Please provide a detailed description of the picture.'],
    question: ['{}'],
    heldOutQuestion: ['{}'],
  },
  llava_v1: {
    caption: ['Describe the image concisely.', 'Provide a brief description of the given image.', 'Summarize the visual content of the image.'],
    description: ['Describe the following image in detail.', 'Provide a detailed description of the given image.'],
    question: ['{}'],
    heldOutQuestion: ['{}'],
  },
  visualglm: {
    // VisualGLM's README asks "Describe this image." (描述这张图片。); the rest are mmzoo's
    caption: ['Describe this image in a few words.', 'Give a short caption of this image.'],
    description: ['Describe this image.', 'Describe this image in detail.'],
    question: ['{}'],
    heldOutQuestion: ['{}'],
  },
};

/** The single-turn layouts (one instruction and its answer, the image before or inside the prompt). */
type SingleTurnTemplate = Exclude<InstructionTemplateName, 'minigpt4' | 'llava_v1'>;

/** The end of an answer in each single-turn layout: Blip2OPT's "\n" (text), InstructBLIP's and VisualGLM's end token. */
const SINGLE_TURN_END: { readonly [T in SingleTurnTemplate]: 'eos' | string } = { blip2_opt: '\n', instructblip: 'eos', visualglm: 'eos' };

/**
 * How an answer ends in `template`: `eos` (the tokenizer's end token: `instructblip`, `llava_v1`) or a text (`blip2_opt`'s
 * "\n", `minigpt4`'s `###`), where generation stops.
 */
export function answerEnd(template: InstructionTemplateName): 'eos' | string {
  return isMultiTurn(template) ? CHAT_TEMPLATES[template as 'minigpt4' | 'llava_v1'].end : SINGLE_TURN_END[template as SingleTurnTemplate];
}

/**
 * A generated answer as scored: the decoded text after the prompt, cut at the layout's end text ({@link answerEnd};
 * generation stops at an end token by itself), spaces trimmed.
 */
export function cutAnswer(template: InstructionTemplateName, generated: string): string {
  const end = answerEnd(template);
  return (end === 'eos' ? generated : generated.split(end)[0]).trim();
}

/** How generated answers of a layout end and read ({@link answerStop}). */
export interface AnswerStop {
  /** the tokenizer's end id (generation ends a row on it) */
  stopIds: number[];
  /** generation's `onToken`: true (end the row) once the row's text holds the layout's end text (`###`, "\n") */
  onToken: (row: number, token: number) => boolean;
  /** the answer of generated ids as scored: decoded without the end id, cut at the end text ({@link cutAnswer}) */
  answer: (ids: readonly number[]) => string;
}

/**
 * Where generation of `rows` answers in `template` stops and how each answer is read: at the tokenizer's end id, or
 * once a row's decoded text holds the layout's end text or one of `stops` (a user's stop strings, `mmzoo generate
 * --stop`), the answer cut before the first of them. One per generation call (it keeps each row's ids).
 */
export function answerStop(template: InstructionTemplateName, tokenizer: TextTokenizer, rows: number, stops: readonly string[] = []): AnswerStop {
  const end = answerEnd(template);
  const texts = [...(end === 'eos' ? [] : [end]), ...stops.filter((x) => x.length > 0)];
  const stopIds = tokenizer.endId === undefined ? [] : [tokenizer.endId];
  const seen = Array.from({ length: rows }, (): number[] => []);
  const cut = (text: string) => texts.reduce((t, x) => t.split(x)[0], text).trim();
  return {
    stopIds,
    onToken: (row, token) => {
      seen[row].push(token);
      const text = tokenizer.decode(seen[row]);
      return texts.some((x) => text.includes(x));
    },
    answer: (ids) => cut(tokenizer.decode(ids.filter((t) => !stopIds.includes(t)))),
  };
}

/**
 * The pieces of an example in `template`: `turns[i].user` is the instruction as worded for the layout (without the
 * image), `turns[i].assistant` its answer. With `generation`, the last answer is left out (the prompt a model answers).
 * Exactly one image piece, where the layout puts the image.
 * @throws Error when there are no turns, or several for a single-turn layout (`blip2_opt`, `instructblip`, `visualglm`)
 */
export function instructionPieces(template: InstructionTemplateName, turns: readonly ChatTurn[], generation = false): ChatPiece[] {
  if (template === 'minigpt4' || template === 'llava_v1') return chatPieces(CHAT_TEMPLATES[template], turns, generation, true);
  if (turns.length !== 1) throw new Error(`instructionPieces: template '${template}' renders one instruction and its answer, got ${turns.length} turns`);
  const end = answerEnd(template);
  const out: ChatPiece[] = template === 'visualglm'
    // the image between `<img>` and `</img>` (VisualGLM's chat writes `<img></img>` when given the image itself)
    ? [{ special: 'bos', counted: false }, { text: '<img>', counted: false }, { image: '', counted: false }, { text: `</img>Q: ${turns[0].user}\nA:`, counted: false }]
    : [{ image: '<Image>', counted: false }, { special: 'bos', counted: false }, ...(turns[0].user ? [{ text: turns[0].user, counted: false }] : [])];
  if (generation) return out;
  out.push({ text: ` ${turns[0].assistant}${end === 'eos' ? '' : end}`, counted: true });
  if (end === 'eos') out.push({ special: 'eos', counted: true });
  return out;
}
