/**
 * A decoder LM's vocabulary size: the config's, else the tokenizer's.
 * @param model the config's `name`, for the error
 * @param fromConfig the config's `vocabSize`
 * @param fromTokenizer the tokenizer's vocabulary size
 * @throws Error when neither is set
 */
export function resolveVocabSize(model: string, fromConfig: number | undefined, fromTokenizer: number | undefined): number {
  const v = fromConfig ?? fromTokenizer;
  if (v === undefined) throw new Error(`${model}: model.vocabSize is not set and no tokenizer gives one`);
  return v;
}
