import { ModelSpec, evalTask } from '@mmzoo/core';
import type { z } from 'zod';
import { Blip2LmConfigSchema, BridgeConfig, InstructBlipConfigSchema, MiniGpt4ConfigSchema, VisualGlmConfigSchema } from './config';
import { QFormerBridge, buildQFormerBridge } from './bridge';
import { isQformerCoreParam, isQformerTextParam } from './components';
import { isLoraParam } from './lm-lora';

/** What tells one bridge spec from another (the rest is {@link bridgeSpec}'s). */
interface BridgeSpecParts<C extends BridgeConfig> {
  name: string;
  describe: string;
  schema: z.ZodType<C>;
  presets: string[];
}

/**
 * A Q-Former bridge ({@link QFormerBridge}) as the harness and the CLI see it: inputs `image`, `lm` (the LM's ids with
 * one IMAGE_TOKEN_INDEX; its context is the LM's less the Nq - 1 extra positions of the soft prompt) and, when the
 * Q-Former reads the instruction, `text` (the Q-Former's tokenizer); one objective, `lm` (next-token cross-entropy on
 * answer tokens, on the image-text examples of `data.dataset: sceneInstructions`); the `sceneVqa` evaluation; the
 * weights by component: `vision`, `lnVision`, `qformer` (queries included), `qformerText` (its text side, built
 * only when it reads instructions), `projection` (`llm_proj`), `lm` and `lora` (the adapters `lmLora` attaches to the
 * LM, built only with it), so that `frozen: [vision, lnVision, qformer, projection, lm]` trains the adapters alone.
 */
function bridgeSpec<C extends BridgeConfig>(parts: BridgeSpecParts<C>): ModelSpec<C, QFormerBridge> {
  return {
    name: parts.name,
    describe: parts.describe,
    schema: parts.schema,
    inputs: (cfg) => {
      const size = cfg.vision.imageSize;
      const lm = { contextLength: cfg.lm.maxSeqLen - cfg.qformer.numQueries + 1 };
      return {
        image: [cfg.vision.channels, size, size],
        lm,
        ...(cfg.qformerText ? { text: { contextLength: cfg.qformer.contextLength } } : {}),
      };
    },
    build: buildQFormerBridge,
    objectives: () => ({ lm: ['pairs'] }),
    stagewise: false,
    evalTasks: () => [evalTask('sceneVqa', {})],
    components: () => ({
      vision: (n) => n.startsWith('visual_encoder.'),
      lnVision: (n) => n.startsWith('ln_vision.'),
      qformer: isQformerCoreParam,
      qformerText: isQformerTextParam,
      projection: (n) => n.startsWith('llm_proj.'),
      lm: (n) => n.startsWith('llm_model.') && !isLoraParam(n),
      lora: (n) => n.startsWith('llm_model.') && isLoraParam(n),
    }),
    presets: parts.presets,
  };
}

/**
 * BLIP-2's second stage (Li et al. 2023, section 3.3): the Q-Former's outputs as a soft prompt of a frozen LM, trained
 * on the LM loss of captions; with `qformerText: true` its VQA fine-tuning (section 4.3: the question enters the
 * Q-Former too, the image encoder and Q-Former train, the LM stays frozen).
 */
export const blip2LmSpec = bridgeSpec({
  name: 'blip2-lm',
  describe: 'BLIP-2 stage 2 (Li et al. 2023): frozen ViT + Q-Former soft prompt (linear projection) into a frozen decoder-only LM, LM loss; VQA fine-tuning with the question in the Q-Former',
  schema: Blip2LmConfigSchema,
  presets: ['configs/blip2/blip2-opt2.7b.yaml'],
});

/**
 * InstructBLIP (Dai et al. 2023): BLIP-2 whose Q-Former reads the instruction beside its queries (section 2.2),
 * instruction-tuned on held-in tasks and evaluated zero-shot on held-out ones (section 2.3).
 */
export const instructBlipSpec = bridgeSpec({
  name: 'instructblip',
  describe: 'InstructBLIP (Dai et al. 2023): BLIP-2 with an instruction-aware Q-Former, instruction tuning on held-in tasks, zero-shot on held-out ones',
  schema: InstructBlipConfigSchema,
  presets: ['configs/blip2/instructblip-vicuna7b.yaml'],
});

/**
 * MiniGPT-4 (Zhu et al. 2023): BLIP-2's frozen ViT and Q-Former and a frozen Vicuna joined by one trainable linear
 * layer (section 3), trained on captions, then on curated detailed descriptions in its conversation template.
 */
export const miniGpt4Spec = bridgeSpec({
  name: 'minigpt4',
  describe: 'MiniGPT-4 (Zhu et al. 2023): frozen ViT + frozen Q-Former + one trainable linear layer into a frozen Vicuna-style LM, captions then detailed descriptions',
  schema: MiniGpt4ConfigSchema,
  presets: ['configs/blip2/minigpt4-vicuna13b.yaml'],
});

/**
 * VisualGLM-6B (THUDM 2023; no paper: the published recipe of THUDM/VisualGLM-6B): a BLIP-2 Q-Former's 32 query outputs
 * (`glm_proj` 768 -> 4096) in place of 32 positions after `<img>` in ChatGLM-6B's prompt, a GLM (prefix LM, 2D RoPE);
 * fine-tuned with LoRA on two of the LM's layers, everything else frozen. Here the LM is the LLaMA stand-in with
 * `rope2d` and `prefixLm`, the adapters `lmLora`.
 */
export const visualGlmSpec = bridgeSpec({
  name: 'visualglm',
  describe: 'VisualGLM-6B on GLM (Du et al. 2022): BLIP-2 Q-Former soft prompt mid-text into a prefix LM with 2D RoPE (LLaMA stand-in for ChatGLM-6B), LoRA on two LM layers in fine-tuning; no paper, the THUDM recipe',
  schema: VisualGlmConfigSchema,
  presets: ['configs/blip2/visualglm-6b.yaml'],
});
