/** The `perplexity` evaluation task: a causal LM's held-out perplexity beside the Kneser-Ney baselines and chance. */
import type { CausalLM } from '@mmzoo/core';
import type { TextTokens } from '../data/text-batches';
import { kneserNeyBaselines } from '../eval/kneser-ney';
import { causalLmPerplexity } from '../eval/perplexity';
import type { Session } from './session';
import { isDialogueData } from './datasets';

/** The Kneser-Ney baselines of a session's tokens, fitted once per session (evaluations during training reuse them). */
const baselines = new WeakMap<TextTokens, ReturnType<typeof kneserNeyBaselines>>();

/**
 * The metrics of the `perplexity` task (core `EVAL_TASK_COLUMNS.perplexity`): `perplexity` of the model on the
 * held-out documents of the text corpus (eval/perplexity `causalLmPerplexity`, windows of the session's context
 * length), `knBigramPerplexity` and `knTrigramPerplexity` of interpolated Kneser-Ney models fitted on the training
 * documents' ids (eval/kneser-ney `kneserNeyBaselines`; the same sequences `<|endoftext|> ids <|endoftext|>` and the
 * same scored tokens as the model), `chancePerplexity` (the vocabulary size: a uniform guess) and `perplexityTokens`
 * (the number of scored tokens). No metrics (n/a) on dialogues (`data.dataset: dialogue`: the `chat` task's).
 * @throws Error when the session's data is not the text corpus (`data.dataset: text`)
 */
export function textPerplexity(model: CausalLM, s: Session): Record<string, number> {
  const tokens = s.tokens;
  // dialogues are scored by the chat task; the perplexity of the text corpus is the base run's
  if (isDialogueData(s.data)) return {};
  if (!tokens) throw new Error(`evaluation task 'perplexity' needs data.dataset 'text', not '${s.config.data.dataset}'`);
  const own = causalLmPerplexity(model, tokens.heldOutSequences, { contextLength: s.contextLength, padId: s.tokenizer.padId });
  let kn = baselines.get(tokens);
  if (!kn) baselines.set(tokens, (kn = kneserNeyBaselines(tokens.trainSequences, tokens.heldOutSequences, s.tokenizer.vocabSize)));
  return {
    perplexity: own.perplexity,
    knBigramPerplexity: kn.bigram.perplexity,
    knTrigramPerplexity: kn.trigram.perplexity,
    chancePerplexity: s.tokenizer.vocabSize,
    perplexityTokens: own.tokens,
  };
}
