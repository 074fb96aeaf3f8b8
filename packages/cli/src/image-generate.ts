/**
 * `mmzoo generate RUN --image FILE --prompt TEXT`: a bridge run (core `ImagePromptedLM`: BLIP-2 with an LM,
 * InstructBLIP, MiniGPT-4) answers questions about image files, each prompt laid out as its training data laid out
 * generation prompts (`data.instructions.template`).
 */
import { imagePromptRoom, isImagePromptedLM, tf } from '@mmzoo/core';
import type { ImagePromptedLM } from '@mmzoo/core';
import { answerStop, imagePrompt, initBackend, instructionOptions } from '@mmzoo/train';
import { loadRun } from './specs';
import type { GenerateCommandOptions } from './commands/generate';

/** Options of {@link imageGenerateCommand}: `mmzoo generate`'s that apply, and the image files. */
export type ImageGenerateOptions = Pick<GenerateCommandOptions,
  'prompt' | 'maxNewTokens' | 'minNewTokens' | 'strategy' | 'temperature' | 'topK' | 'topP' | 'seed' | 'repetitionPenalty' | 'numBeams' |
  'lengthPenalty' | 'stop' | 'cache' | 'json' | 'checkpoint' | 'backend'> & {
  /** one image file for every prompt, or one per prompt */
  image: string[];
};

/** One answered row as `--json` prints it. */
export interface ImageAnswerRow {
  image: string;
  prompt: string;
  /** the prompt as the model's layout words it (without the image) */
  input: string;
  ids: number[];
  answer: string;
}

/**
 * Answers each prompt about its image with a bridge run and prints `image: answer` lines (or JSON rows): the run's
 * model at its checkpoint, the image decoded as its training images were (run.preprocess), the prompt in the run's
 * instruction layout, the Q-Former given the instruction when the model reads one, the answer cut at the layout's end.
 * @throws Error (one line) for no prompt, image counts that do not pair with the prompts, a run whose model does not
 *   answer about images, and loadRun's / preprocess's errors (a missing or unreadable image file names it)
 */
export async function imageGenerateCommand(source: string, opts: ImageGenerateOptions): Promise<number> {
  if (opts.prompt.length === 0) throw new Error('--prompt is required (repeat it for a batch of prompts)');
  if (opts.image.length !== 1 && opts.image.length !== opts.prompt.length) {
    throw new Error(`--image given ${opts.image.length} times for ${opts.prompt.length} ${opts.prompt.length === 1 ? 'prompt' : 'prompts'}: give one image for all of them or one per prompt`);
  }
  const run = await loadRun(source, { checkpoint: opts.checkpoint, beforeBuild: async (config) => { await initBackend(opts.backend ?? config.runtime.backend); } });
  try {
    const model = run.model;
    if (!isImagePromptedLM(model)) throw new Error(`${source}: model '${run.spec.name}' does not answer prompts about images; --image needs a bridge run (blip2-lm, instructblip, minigpt4, visualglm)`);
    const lm = run.tokenizers.lm;
    if (!lm) throw new Error(`${source}: the run has no lm tokenizer`);
    const template = instructionOptions(run.config.data).template;
    const files = opts.prompt.map((_, i) => opts.image[opts.image.length === 1 ? 0 : i]);
    const prompts = opts.prompt.map((p) => imagePrompt(template, p, lm));
    const images = await run.preprocess(files);
    const text = model.readsInstruction ? instructionIds(run, prompts.map((p) => p.qformer)) : undefined;
    const stop = answerStop(template, lm, prompts.length, opts.stop ?? []);
    const maxNewTokens = answerBudget(model, prompts.map((p) => p.ids.length), opts);
    const given = {
      strategy: opts.strategy, maxNewTokens, minNewTokens: opts.minNewTokens, temperature: opts.temperature, topK: opts.topK,
      topP: opts.topP, seed: opts.seed, repetitionPenalty: opts.repetitionPenalty, numBeams: opts.numBeams, lengthPenalty: opts.lengthPenalty,
      useCache: opts.cache !== false,
    };
    try {
      const out = model.generateFromImages(images, prompts.map((p) => p.ids), { ...given, text, stopIds: stop.stopIds, onToken: stop.onToken }).tokens;
      const rows: ImageAnswerRow[] = opts.prompt.map((prompt, i) => ({
        image: files[i], prompt, input: prompts[i].text, ids: out[i], answer: stop.answer(out[i]),
      }));
      process.stdout.write(opts.json ? `${JSON.stringify(rows, null, 2)}\n` : rows.map((r) => `${r.image}: ${r.prompt}\n${r.answer}\n`).join('\n'));
    } finally {
      tf.dispose([images, ...(text ? [text] : [])]);
    }
    return 0;
  } finally {
    run.model.dispose();
  }

}

/**
 * The new tokens of an answer: --max-new-tokens, else the run's `answer.maxNewTokens` (short answers; `mmzoo
 * generate` on a text LM defaults to what the context leaves, at most 128).
 * @throws Error (one line, with what to change) when the longest prompt, its image positions and the budget exceed the
 *   LM's context, or --min-new-tokens exceeds the budget
 */
function answerBudget(model: ImagePromptedLM & { answerOptions?: () => { maxNewTokens: number } }, promptLengths: number[], opts: ImageGenerateOptions): number | undefined {
  const context = model.lm.maxSeqLen;
  const room = imagePromptRoom(model, promptLengths);
  const longest = context - room;
  const which = promptLengths.length > 1 ? ` ${promptLengths.indexOf(Math.max(...promptLengths)) + 1} of ${promptLengths.length}` : '';
  if (room < 1) throw new Error(`the prompt${which} takes ${longest} positions with its image: it leaves no room for an answer in the LM's context of ${context}`);
  const asked = opts.maxNewTokens ?? model.answerOptions?.().maxNewTokens;
  if (asked !== undefined && asked > room) {
    throw new Error(`the prompt${which} takes ${longest} positions with its image; ${asked} new tokens${opts.maxNewTokens === undefined ? " (the run's answer.maxNewTokens)" : ' (--max-new-tokens)'} exceed the LM's context of ${context}: give --max-new-tokens ${room} or less`);
  }
  if (opts.minNewTokens !== undefined && asked !== undefined && opts.minNewTokens > asked) {
    throw new Error(`--min-new-tokens ${opts.minNewTokens} exceeds the ${asked} new tokens allowed${opts.maxNewTokens === undefined ? " (the run's answer.maxNewTokens; raise it with --max-new-tokens)" : ''}`);
  }
  return opts.maxNewTokens;
}

/** The instructions in the run's `text` tokenizer, int32 [B, contextLength] (what an instruction-aware Q-Former reads). */
function instructionIds(run: Awaited<ReturnType<typeof loadRun>>, texts: string[]): tf.Tensor {
  const tok = run.tokenizers.text;
  const context = run.spec.inputs(run.config.model).text?.contextLength;
  if (!tok || context === undefined) throw new Error('the model reads instructions but the run has no text tokenizer');
  const enc = tok.encodeBatch(texts, context);
  return tf.tensor2d(enc.ids, enc.shape, 'int32');
}
