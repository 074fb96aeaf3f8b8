/**
 * The text corpus's baselines, on the whole corpus (too slow for a test): trains the byte-level BPE of `kind: bpe`
 * with its defaults (vocabSize 4096 unless given; `<|endoftext|>` after every text) on the training documents, checks
 * that `@huggingface/tokenizers` encodes the held-out documents with the trainer's ids, and prints the held-out
 * perplexity of interpolated Kneser-Ney bigram and trigram models fitted on the training ids (README, "Text corpus").
 *
 * Each document is one sequence `<|endoftext|> ids <|endoftext|>`: the leading separator is context only, as it is
 * for a language model reading documents one after another.
 *
 *   npx tsx scripts/text-baselines.ts [vocabSize]
 */
import { HFTokenizer } from '@mmzoo/core';
import { BpeTokenizerConfigSchema, kneserNeyBaselines, loadTextCorpus, trainByteLevelBpe } from '@mmzoo/train';

function main(): void {
  const vocabSize = Number(process.argv[2] ?? 4096);
  const seconds = (t: number) => ((Date.now() - t) / 1000).toFixed(1);
  let t = Date.now();
  const corpus = loadTextCorpus();
  const chars = (docs: { text: string }[]) => docs.reduce((n, d) => n + d.text.length, 0);
  console.log(`corpus: ${corpus.train.length} training documents (${chars(corpus.train)} characters), ${corpus.heldOut.length} held out (${chars(corpus.heldOut)}), read in ${seconds(t)} s`);

  t = Date.now();
  const cfg = BpeTokenizerConfigSchema.parse({ kind: 'bpe', vocabSize });
  const bpe = trainByteLevelBpe(corpus.train.map((d) => d.text), cfg);
  console.log(`BPE: ${bpe.vocabSize} tokens, ${bpe.merges.length} merges, trained in ${seconds(t)} s`);

  t = Date.now();
  const hf = HFTokenizer.fromJSON(bpe.toTokenizerJson(), bpe.tokenizerConfig());
  const eotId = bpe.vocab.get(cfg.end)!;
  const sequence = (text: string) => [eotId, ...bpe.encode(text)];
  const heldOut = corpus.heldOut.map((d) => {
    const ids = bpe.encode(d.text);
    const theirs = hf.inner.encode(d.text).ids;
    if (ids.length !== theirs.length || ids.some((id, i) => id !== theirs[i])) throw new Error(`${d.id}: @huggingface/tokenizers encodes it differently`);
    return [eotId, ...ids];
  });
  const train = corpus.train.map((d) => sequence(d.text));
  const count = (seqs: number[][]) => seqs.reduce((n, s) => n + s.length - 1, 0);
  console.log(`encoded: ${count(train)} training tokens, ${count(heldOut)} held-out tokens (scored), identical through @huggingface/tokenizers, in ${seconds(t)} s`);

  t = Date.now();
  const { bigram, trigram } = kneserNeyBaselines(train, heldOut, bpe.vocabSize);
  console.log(`held-out perplexity: Kneser-Ney bigram ${bigram.perplexity.toFixed(2)}, trigram ${trigram.perplexity.toFixed(2)} (${seconds(t)} s)`);
}

main();
