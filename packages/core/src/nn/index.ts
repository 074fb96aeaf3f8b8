export { Module, ParamPlaceholder, isShapeOnlyParam } from './module';
export {
  manualSeed, normal, truncatedNormal, uniform, normalInit, truncatedNormalInit, uniformInit, zerosInit, onesInit, fillInit,
  scalarInit, tensorInit, drawnInit, withShapesOnly, isShapeOnlyMode,
} from './init';
export type { ParamInit } from './init';
export { Linear } from './linear';
export { LayerNorm } from './layer-norm';
export { Embedding } from './embedding';
export { MLP } from './mlp';
export { MultiHeadAttention } from './attention';
export type { MultiHeadAttentionOptions, QKV, QKVLayout } from './attention';
export { TransformerBlock, Transformer, BlockList } from './transformer';
export type { TransformerBlockOptions, TransformerStackOptions } from './transformer';
export { PatchEmbedding } from './patch-embedding';
export { bicubicResize, cubicWeights } from './position';
export { VisionTransformer, blocksUpTo, timmVisionTransformer } from './vision-transformer';
export type { VisionTransformerOptions, VisionOutput } from './vision-transformer';
export { TextTransformer, defaultTextPool } from './text-transformer';
export type { ClsMask, TextTransformerOptions, TextOutput, TextPool } from './text-transformer';
export { AttentionalPooler } from './attentional-pooler';
export type { AttentionalPoolerOptions } from './attentional-pooler';
export { MultimodalDecoder } from './multimodal-decoder';
export type { MultimodalDecoderOptions } from './multimodal-decoder';
export { MultiwayBlock, MultiwayEncoder, ExpertSet, routeTokens, splitTokens } from './multiway';
export type {
  Modality, FfnExpert, MultiwaySegment, MultiwayAttentionLayout, MultiwayBlockOptions, MultiwayApplyOptions,
  MultiwayEncoderOptions, MultiwayEncoderApplyOptions,
} from './multiway';
export {
  RelativePositionBias, imageRelativeDistances, imageRelativePositionIndex, vlmoRelativeLayout, vlmoTextRelativePositionIndex,
  vlmoFusionRelativePositionIndex,
} from './relative-position';
export type { RelativePositionIndex, VlmoRelativeLayout } from './relative-position';
export { BertEmbeddings, BertAttention, BertLayer, BertEncoder, BertLMHead, BertWithLMHead } from './bert';
export type {
  BertEmbeddingsOptions, BertAttentionOptions, BertLayerOptions, BertLayerApplyOptions, BertEncoderOptions, BertEncodeOptions, BertLMHeadOptions,
} from './bert';
export { QFormer } from './q-former';
export { copyTwins, hasInitTwins } from './init-twins';
export type { HasInitTwins } from './init-twins';
export type { QFormerOptions, QFormerInputs, QFormerOutput } from './q-former';
export { FeatureQueue } from './feature-queue';
export type { FeatureQueueOptions } from './feature-queue';
export { KMeansVisualTokenizer } from './kmeans-tokenizer';
export { MomentumPairs, hasMomentumCopies } from './momentum';
export type { HasMomentumCopies } from './momentum';
export { MomentumItcModel, buildItcTowers, momentumItcOptions } from './momentum-itc';
export type {
  ItcTowers, MomentumItcOptions, MomentumItcStates, MomentumItcStepInputs, MomentumItcStepOutput, MomentumItmOutput,
  MomentumStepObjective,
} from './momentum-itc';
export { CLIP_LOGIT_SCALE_INIT, CLIP_MAX_LOGIT_SCALE, clampedLogitScale, clampLogitScale } from './logit-scale';
export { ContrastiveDualEncoder } from './contrastive-dual-encoder';
export type { LogitScaleOptions, PooledTower } from './contrastive-dual-encoder';
export { RMSNorm } from './rms-norm';
export { SwiGLU, llamaHiddenDim } from './swiglu';
export type { SwiGLUOptions } from './swiglu';
export { LearnedPositionEmbedding } from './learned-positions';
export { OutputProjection } from './output-projection';
export { KVCache } from './kv-cache';
export { CausalSelfAttention, attendHeads } from './causal-self-attention';
export type { CausalSelfAttentionOptions, CausalSelfAttentionInputs } from './causal-self-attention';
export { LoraAdapter, addLora, loraAdapters, setLoraDropout, mergeLora } from './lora';
export type { LoraOptions } from './lora';
export type { LinearAdapter } from './linear';
export { spliceImageEmbeds } from './image-placeholder';
export type { SpliceImageOptions, SplicedImageInputs } from './image-placeholder';
