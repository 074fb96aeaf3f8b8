/** @mmzoo/blip2: BLIP-2 (Li et al. 2023) composed from @mmzoo/core; the Q-Former itself is core's `QFormer`. */
export { Blip2Qformer, buildBlip2 } from './model';
export type { Blip2Options, Blip2StepInputs, Blip2StepOutput } from './model';
export { Blip2ConfigSchema, Blip2VisionSchema, Blip2QformerSchema, BridgeQformerSchema, AnswerDecodingSchema, bridgeConfigSchema, Blip2LmConfigSchema, InstructBlipConfigSchema, MiniGpt4ConfigSchema, VisualGlmConfigSchema, LmLoraSchema } from './config';
export type { Blip2Config, Blip2ConfigInput, AnswerDecoding, BridgeConfig, BridgeConfigInput, LmLora } from './config';
export { addLmLora, isLoraParam } from './lm-lora';
export { QFormerBridge, buildQFormerBridge } from './bridge';
export type { QFormerBridgeOptions } from './bridge';
export { buildBlip2Vision } from './vision';
export { torchmultimodalBlip2Name, lavisBlip2Name, loadTorchmultimodalBlip2, loadLavisBlip2 } from './weights';
export { bridgeWeightName, loadBridgeWeights } from './bridge-weights';
export type { BridgeWeightsSource } from './bridge-weights';
export { blip2Captions } from './captions';
export { blip2Spec } from './spec';
export { blip2LmSpec, instructBlipSpec, miniGpt4Spec, visualGlmSpec } from './bridge-spec';
