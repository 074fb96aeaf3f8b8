import { adaptShapes, loadStateDict } from '@mmzoo/core';
import type { LoadStateDictResult, RawTensor, Variable } from '@mmzoo/core';
import { Llama, Opt, hfLlamaName, loadLlamaWeights, loadOptWeights } from '@mmzoo/lm';
import type { LmModel } from '@mmzoo/lm';
import type { QFormerBridge } from './bridge';
import { lavisBlip2Name } from './weights';

/**
 * Whose state dict a {@link QFormerBridge}'s weights come in: LAVIS's `Blip2OPT` (`opt_proj`, `opt_model`: an OPT in
 * HF names), LAVIS's `Blip2VicunaInstruct` (`llm_proj`, `llm_model`: a LLaMA in HF names) or MiniGPT-4's `MiniGPT4`
 * (`llama_proj`, `llama_model`: a LLaMA in HF names). All three share EVA's `visual_encoder.*`, `ln_vision`,
 * `query_tokens` and `Qformer.bert.*`.
 */
export type BridgeWeightsSource = 'blip2_opt' | 'instructblip' | 'minigpt4';

/** Per source: the projection's and the LM's module names, and the LM family its names are in. */
const LAYOUTS: Record<BridgeWeightsSource, { proj: string; lm: string; family: 'opt' | 'llama' }> = {
  blip2_opt: { proj: 'opt_proj', lm: 'opt_model', family: 'opt' },
  instructblip: { proj: 'llm_proj', lm: 'llm_model', family: 'llama' },
  minigpt4: { proj: 'llama_proj', lm: 'llama_model', family: 'llama' },
};

/** Where the bridge keeps its LM (QFormerBridge registers it under this name). */
const LM_MODULE = 'llm_model';

/**
 * Our name of a tensor of `source`'s state dict outside its LM: the projection (`opt_proj` / `llm_proj` /
 * `llama_proj`) onto `llm_proj`, EVA's ViT names onto core's and `*.position_ids` skipped ({@link lavisBlip2Name};
 * a bridge has no ITG head, so a stored `Qformer.cls.*` stays unexpected); `ln_vision`, `query_tokens` and
 * `Qformer.bert.*` are already ours.
 * @returns our name, or null for a skipped buffer
 */
export function bridgeWeightName(name: string, source: BridgeWeightsSource): string | null {
  const { proj } = LAYOUTS[source];
  if (name.startsWith(`${proj}.`)) return `llm_proj.${name.slice(proj.length + 1)}`;
  return lavisBlip2Name(name, false);
}

/** The LM's tensors through its own loader: OPT's (tied lm_head) or LLaMA's HF names (rotate_half, so no permutation). */
function loadLm(lm: LmModel, tensors: Map<string, RawTensor>, source: BridgeWeightsSource): LoadStateDictResult {
  const { family } = LAYOUTS[source];
  if (family === 'opt' && lm instanceof Opt) return loadOptWeights(lm, tensors);
  if (family === 'llama' && lm instanceof Llama) {
    const result = loadLlamaWeights(lm, tensors, 'hf');
    // loadLlamaWeights drops the `rotary_emb.inv_freq` buffers before loading: report them as skipped
    return { ...result, skipped: [...result.skipped, ...[...tensors.keys()].filter((n) => hfLlamaName(n) === null)] };
  }
  throw new Error(`loadBridgeWeights: a ${source} state dict holds ${family === 'opt' ? 'an OPT' : 'a LLaMA'} under ${LAYOUTS[source].lm}.*; the bridge's LM class is ${lm.constructor.name}`);
}

/**
 * Loads a LAVIS `Blip2OPT` / `Blip2VicunaInstruct` or MiniGPT-4 `MiniGPT4` state dict into a {@link QFormerBridge},
 * all or nothing: the LM's tensors (`opt_model.*` / `llm_model.*` / `llama_model.*`) go through the LM's own loader
 * (@mmzoo/lm loadOptWeights or loadLlamaWeights with HF names) into `llm_model`, the rest through
 * {@link bridgeWeightName} (class token and position table with size-1 axes reshaped, core adaptShapes). Build the
 * bridge as the checkpoint is: Blip2OPT's and MiniGPT-4's Q-Former without text (`qformerText: false`: no word or
 * position embeddings, no text FFN), InstructBLIP's with (its word table holds BERT's rows plus `[DEC]`); the ViT with
 * every stored block (`featureLayer` naming the last) and `finalNorm: false`; a LLaMA with `ropeLayout: 'half'`.
 * Strict: every variable must be given and every tensor used, but for the `position_ids` and `rotary_emb.inv_freq`
 * buffers (skipped).
 * @param model the bridge to fill
 * @param tensors the state dict (e.g. core parseSafetensors of a converted checkpoint)
 * @param source whose names it has
 * @returns our names loaded (`llm_model.*` for the LM's), the source names skipped
 * @throws Error when the LM is not the source's family, or from loadStateDict / the LM's loader naming missing,
 *   unexpected or misshapen tensors; nothing is assigned then
 */
export function loadBridgeWeights(model: QFormerBridge, tensors: Map<string, RawTensor>, source: BridgeWeightsSource): LoadStateDictResult {
  const lmPrefix = `${LAYOUTS[source].lm}.`;
  const lmTensors = new Map<string, RawTensor>();
  const rest = new Map<string, RawTensor>();
  for (const [name, raw] of tensors) {
    if (name.startsWith(lmPrefix)) lmTensors.set(name.slice(lmPrefix.length), raw);
    else rest.set(name, raw);
  }
  const target = new Map<string, Variable>([...model.namedParameters()].filter(([name]) => !name.startsWith(`${LM_MODULE}.`)));
  const rename = (name: string) => bridgeWeightName(name, source);
  const adapted = adaptShapes(rest, target, rename);
  loadStateDict(target, adapted, { rename, dryRun: true });
  const lm = loadLm(model.lm, lmTensors, source);
  const own = loadStateDict(target, adapted, { rename });
  return {
    loaded: [...own.loaded, ...lm.loaded.map((n) => `${LM_MODULE}.${n}`)],
    missing: [],
    unexpected: [],
    skipped: [...own.skipped, ...lm.skipped.map((n) => `${lmPrefix}${n}`)],
  };
}
