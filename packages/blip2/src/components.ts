/**
 * The Q-Former's text side in LAVIS's names: the word and position tables and every layer's text FFN
 * (`intermediate` / `output`) — what LAVIS's Blip2OPT and MiniGPT-4 delete and what InstructBLIP and BLIP-2's VQA
 * fine-tuning read the instruction with. A component of its own (`qformerText`), so that a config can take it from
 * stage 1 and the rest of the Q-Former from stage 2.
 */
export function isQformerTextParam(name: string): boolean {
  return /^Qformer\.bert\.(embeddings\.(word|position)_embeddings|encoder\.layer\.\d+\.(intermediate|output))\./.test(name);
}

/** The queries and the Q-Former but its text side ({@link isQformerTextParam}) and its ITG head. */
export function isQformerCoreParam(name: string): boolean {
  return (name === 'query_tokens' || name.startsWith('Qformer.bert.')) && !isQformerTextParam(name);
}
