import { BlockList, addLora } from '@mmzoo/core';
import type { LmModel } from '@mmzoo/lm';
import type { LmLora } from './config';

/**
 * Whether a parameter is a LoRA adapter's (`….lora_A.weight` / `….lora_B.weight`, core addLora's PEFT names): the
 * bridge's `lora` component, which the `lm` component leaves out.
 */
export function isLoraParam(name: string): boolean {
  return /\.lora_[AB]\.weight$/.test(name);
}

/**
 * Attaches LoRA adapters (core `addLora`) to the `targets` Linears of the chosen blocks of a decoder LM: VisualGLM-6B's
 * fine-tuning (sat LoraMixin with `layer_range`: adapters on some layers only). The blocks are the children of the LM's
 * one `BlockList` (LLaMA `layers`, GPT-2 `transformer.h`, OPT `model.decoder.layers`), so the adapters' weights are
 * named `<block path>.<linear path>.lora_A.weight` [r, in] and `.lora_B.weight` [out, r]. Works in a shape-only build.
 * @returns the paths (in the LM) of the Linears that got an adapter, in layer order
 * @throws Error when the LM has no block list or several, a layer is not one of its blocks, or from addLora when a
 *   target names no Linear of a block
 */
export function addLmLora(lm: LmModel, lora: LmLora): string[] {
  const lists = [...lm.namedModules()].filter(([, m]) => m instanceof BlockList);
  if (lists.length !== 1) throw new Error(`lmLora: the LM has ${lists.length} block lists (${lists.map(([p]) => p).join(', ')}); it needs exactly one`);
  const [listPath, list] = lists[0];
  const blocks = list.namedModules();
  const count = [...blocks.keys()].filter((k) => /^\d+$/.test(k)).length;
  return lora.layers.flatMap((layer) => {
    const block = blocks.get(String(layer));
    if (!block) throw new Error(`lmLora: layer ${layer} is not a block of the ${count}-layer LM (${listPath}.0 .. ${listPath}.${count - 1})`);
    return addLora(block, { rank: lora.rank, alpha: lora.alpha, targets: lora.targets }).map((p) => `${listPath}.${layer}.${p}`);
  });
}
