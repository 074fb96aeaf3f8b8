/**
 * `mmzoo generate RUN --image FILE --prompt TEXT`: a bridge run (core `ImagePromptedLM`: BLIP-2 with an LM,
 * InstructBLIP, MiniGPT-4) answers questions about image files, each prompt laid out as its training data laid out
 * generation prompts (`data.instructions.template`).
 */
import { isImagePromptedLM, tf } from '@mmzoo/core';
import { answerStop, imagePrompt, initBackend, instructionOptions } from '@mmzoo/train';
import { loadRun } from './specs';
import type { GenerateCommandOptions } from './commands/generate';

/** Options of {@link imageGenerateCommand}: `mmzoo generate`'s that apply, and the image files. */
export type ImageGenerateOptions = Pick<GenerateCommandOptions,
  'prompt' | 'maxNewTokens' | 'minNewTokens' | 'strategy' | 'temperature' | 'topK' | 'topP' | 'seed' | 'repetitionPenalty' | 'numBeams' |
  'lengthPenalty' | 'json' | 'checkpoint' | 'backend'> & {
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
    throw new Error(`--image given ${opts.image.length} times for ${opts.prompt.length} prompts: give one image for all of them or one per prompt`);
  }
  const run = await loadRun(source, { checkpoint: opts.checkpoint, beforeBuild: async (config) => { await initBackend(opts.backend ?? config.runtime.backend); } });
  try {
    const model = run.model;
    if (!isImagePromptedLM(model)) throw new Error(`${source}: model '${run.spec.name}' does not answer prompts about images; --image needs a bridge run (e.g. blip2-lm, instructblip, minigpt4)`);
    const lm = run.tokenizers.lm;
    if (!lm) throw new Error(`${source}: the run has no lm tokenizer`);
    const template = instructionOptions(run.config.data).template;
    const files = opts.prompt.map((_, i) => opts.image[opts.image.length === 1 ? 0 : i]);
    const prompts = opts.prompt.map((p) => imagePrompt(template, p, lm));
    const images = await run.preprocess(files);
    const text = model.readsInstruction ? instructionIds(run, prompts.map((p) => p.qformer)) : undefined;
    const stop = answerStop(template, lm, prompts.length);
    const given = {
      strategy: opts.strategy, maxNewTokens: opts.maxNewTokens, minNewTokens: opts.minNewTokens, temperature: opts.temperature, topK: opts.topK,
      topP: opts.topP, seed: opts.seed, repetitionPenalty: opts.repetitionPenalty, numBeams: opts.numBeams, lengthPenalty: opts.lengthPenalty,
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

/** The instructions in the run's `text` tokenizer, int32 [B, contextLength] (what an instruction-aware Q-Former reads). */
function instructionIds(run: Awaited<ReturnType<typeof loadRun>>, texts: string[]): tf.Tensor {
  const tok = run.tokenizers.text;
  const context = run.spec.inputs(run.config.model).text?.contextLength;
  if (!tok || context === undefined) throw new Error('the model reads instructions but the run has no text tokenizer');
  const enc = tok.encodeBatch(texts, context);
  return tf.tensor2d(enc.ids, enc.shape, 'int32');
}
