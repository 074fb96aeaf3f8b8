import { SearchStrategy, generateCausal } from '@mmzoo/core';
import { renderChat } from '@mmzoo/lm';
import { loadTextLm, TextLm } from '../text-lm';
import { TextStream } from '../text-stream';
import { imageGenerateCommand } from '../image-generate';

/** Options of `mmzoo generate` (numbers already parsed and range-checked by the command line). */
export interface GenerateCommandOptions {
  /** one or more prompts (a batch) */
  prompt: string[];
  /** render each prompt as a user turn with the model's chat template */
  chat?: boolean;
  /** image files a bridge run answers the prompts about (one for all, or one per prompt): see image-generate.ts */
  image?: string[];
  /** default: as many as the context leaves after the longest prompt, at most {@link DEFAULT_MAX_NEW_TOKENS} */
  maxNewTokens?: number;
  minNewTokens?: number;
  /** default 'greedy' */
  strategy?: SearchStrategy;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  repetitionPenalty?: number;
  numBeams?: number;
  lengthPenalty?: number;
  /** stop strings: the text ends before the first that appears */
  stop?: string[];
  /** false: recompute the whole sequence every step (`--no-cache`) */
  cache?: boolean;
  /** print `[{prompt, input, promptIds, ids, text}]` as JSON instead of streaming text */
  json?: boolean;
  /** a run folder's checkpoint */
  checkpoint?: string;
  /** tokenizer.json for a llama2.c .bin (or to override an HF folder's) */
  tokenizer?: string;
  backend?: string;
}

/** New tokens when --max-new-tokens is not given (fewer when the context is shorter). */
export const DEFAULT_MAX_NEW_TOKENS = 128;

/** One generated row as `--json` prints it. */
export interface GeneratedRow {
  /** the prompt as given */
  prompt: string;
  /** the text that was encoded: the prompt, or its chat rendering with --chat */
  input: string;
  /** the ids the model was given (with the bos id when the model's convention adds one) */
  promptIds: number[];
  /** the generated ids (a stop id included when one ended the row) */
  ids: number[];
  /** the generated text, ending before a stop string */
  text: string;
}

/**
 * `mmzoo generate SOURCE --prompt TEXT [...]` (with `--image FILE`: {@link imageGenerateCommand}): continues each prompt with a causal language model (a run folder, a
 * Hugging Face folder or a llama2.c .bin; {@link loadTextLm}) through core's KV-cached `generateCausal`. One prompt
 * is streamed to stdout as its tokens come (the prompt first, unless --chat); several are printed one after another
 * when all are done, separated by blank lines; --json prints {@link GeneratedRow}s. Rows end at the model's end-of-text
 * ids, at a --stop string or after the new-token budget.
 * @throws Error (one line) for no prompt, a prompt that gives no tokens, a prompt too long for the model's context
 *   with the new tokens asked for, --chat without a chat template, and {@link loadTextLm}'s errors
 */
export async function generateCommand(source: string, opts: GenerateCommandOptions): Promise<number> {
  if (opts.image?.length) {
    if (opts.chat) throw new Error('--chat is for text models; with --image the prompt is laid out as the bridge run was trained');
    return imageGenerateCommand(source, { ...opts, image: opts.image });
  }
  if (opts.prompt.length === 0) throw new Error('--prompt is required (repeat it for a batch of prompts)');
  const strategy = opts.strategy ?? 'greedy';
  const ignored = ([['--temperature', opts.temperature, 'sample'], ['--top-k', opts.topK, 'sample'], ['--top-p', opts.topP, 'sample'], ['--seed', opts.seed, 'sample'],
    ['--num-beams', opts.numBeams, 'beam'], ['--length-penalty', opts.lengthPenalty, 'beam']] as const).filter(([, v, s]) => v !== undefined && s !== strategy);
  for (const [flag, , s] of ignored) process.stderr.write(`warning: ${flag} applies to --strategy ${s} only; ignored with --strategy ${strategy}\n`);
  const lm = await loadTextLm(source, opts);
  try {
    for (const w of lm.warnings) process.stderr.write(`warning: ${w}\n`);
    const inputs = opts.prompt.map((p) => (opts.chat ? chatInput(lm, p, source) : p));
    const promptIds = inputs.map((text, i) => {
      const ids = [...(opts.chat || lm.bosId === undefined ? [] : [lm.bosId]), ...lm.tokenizer.inner.encode(text, { add_special_tokens: false }).ids];
      if (ids.length === 0) throw new Error(`--prompt ${JSON.stringify(opts.prompt[i])} gives no tokens`);
      return ids;
    });
    const maxNewTokens = newTokenBudget(lm, promptIds, opts.maxNewTokens);
    const streams = promptIds.map((ids) => new TextStream(lm.tokenizer, ids, opts.stop ?? []));
    const live = !opts.json && promptIds.length === 1;
    if (live && !opts.chat) process.stdout.write(opts.prompt[0]);
    const out = generateCausal(lm.model, promptIds, {
      strategy, maxNewTokens, minNewTokens: opts.minNewTokens, stopIds: lm.stopIds, repetitionPenalty: opts.repetitionPenalty,
      numBeams: opts.numBeams, lengthPenalty: opts.lengthPenalty, temperature: opts.temperature, topK: opts.topK, topP: opts.topP, seed: opts.seed,
      useCache: opts.cache !== false, padId: lm.tokenizer.padId,
      onToken: (row, token) => {
        const { text, stop } = streams[row].push(token);
        if (live) process.stdout.write(text);
        return stop;
      },
    });
    if (live) {
      process.stdout.write(`${streams[0].finish()}\n`);
    } else if (opts.json) {
      const rows: GeneratedRow[] = opts.prompt.map((prompt, i) => ({ prompt, input: inputs[i], promptIds: promptIds[i], ids: out.tokens[i], text: streams[i].text }));
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    } else {
      process.stdout.write(opts.prompt.map((p, i) => `${opts.chat ? '' : p}${streams[i].text}\n`).join('\n'));
    }
  } finally {
    lm.dispose();
  }
  return 0;
}

/** A prompt as the user turn of the model's chat template, ready for its answer. @throws Error when it has no template */
function chatInput(lm: TextLm, prompt: string, source: string): string {
  if (lm.chatTemplate === undefined) throw new Error(`--chat: ${source} has no chat template (chat_template in tokenizer_config.json)`);
  return renderChat(lm.chatTemplate, [{ role: 'user', content: prompt }], { bos_token: lm.bosToken, eos_token: lm.eosToken });
}

/**
 * The new tokens to generate: --max-new-tokens, or what the context leaves after the longest prompt (at most
 * {@link DEFAULT_MAX_NEW_TOKENS}).
 * @throws Error when the longest prompt plus the budget does not fit the model's context
 */
function newTokenBudget(lm: TextLm, promptIds: number[][], asked: number | undefined): number {
  const context = lm.model.maxSeqLen;
  const lengths = promptIds.map((p) => p.length);
  const longest = Math.max(...lengths);
  const budget = asked ?? Math.min(DEFAULT_MAX_NEW_TOKENS, context - longest);
  if (longest + budget > context || budget < 1) {
    const which = lengths.length > 1 ? ` ${lengths.indexOf(longest) + 1} of ${lengths.length}` : '';
    throw new Error(asked === undefined
      ? `the prompt${which} is ${longest} tokens: it leaves no room for a new token in the model's context of ${context} tokens`
      : `the prompt${which} is ${longest} tokens; with ${asked} new ${asked === 1 ? 'token' : 'tokens'} (--max-new-tokens) it exceeds the model's context of ${context} tokens`);
  }
  return budget;
}
