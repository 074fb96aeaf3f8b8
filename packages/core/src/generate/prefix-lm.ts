import type { Tensor } from '../tf';

/**
 * Per row, the prefix a prefix LM reads bidirectionally while it trains on answer-only labels (GLM, Du et al. 2022,
 * section 2.1; THUDM VisualGLM-6B finetune_visualglm.py, where the context before the answer is the prefix and its
 * labels are -100): the whole prompt, i.e. every position up to the first one whose (already shifted) label counts,
 * that one included (it is the prompt's last token, which predicts the answer's first). A row without a counted label
 * is context throughout: its length. The same prefix a generation prompt gets (`CausalGenerateOptions.prefixLength`,
 * the prompt's length), so that training and answering see the prompt alike. Reads the labels on the host.
 * @param labels int32 [B, L]: `labels[b][t]` the target of position t, `ignoreIndex` where not scored
 * @param ignoreIndex the label value that is not scored (default -100)
 * @returns B integers in [1, L] (CausalLmForwardOptions `prefixLength`)
 * @throws Error when labels is not [B, L] with L >= 1
 */
export function prefixLengthsFromLabels(labels: Tensor, ignoreIndex = -100): number[] {
  if (labels.rank !== 2 || labels.shape[1] === 0) throw new Error(`prefixLengthsFromLabels: labels must be int32 [B, L] with L >= 1, got [${labels.shape}]`);
  return (labels.arraySync() as number[][]).map((row) => {
    const first = row.findIndex((l) => l !== ignoreIndex);
    return first < 0 ? row.length : first + 1;
  });
}
