import { LoadStateDictResult, RawTensor, adaptShapes, loadStateDict, timmVitName } from '@mmzoo/core';
import type { BLIP } from './model';

/**
 * Maps a salesforce/BLIP `BLIP_Pretrain` state-dict name onto {@link BLIP}'s names: the timm ViTs
 * (`visual_encoder[_m].blocks.{i}.attn.qkv.weight`, ...) onto core ViT names; the `position_ids` buffers are
 * skipped (null: positions are computed); everything else (HF BERT names, heads, queues) is already ours.
 * Tied names (`text_decoder.bert.embeddings.*`, the decoder's cross-attention and FFN, `cls.predictions.decoder.*`)
 * are not stored in BLIP's checkpoints and have no variable of their own here: they are the encoder's tensors.
 * @returns the BLIP name, or null for skipped names
 */
export function salesforceBlipName(name: string): string | null {
  if (name.endsWith('.embeddings.position_ids')) return null;
  const m = /^(visual_encoder(?:_m)?)\.(.+)$/.exec(name);
  if (m) {
    const inner = timmVitName(m[2]);
    return inner ? `${m[1]}.${inner}` : name;
  }
  return name;
}

/**
 * Loads a salesforce/BLIP pre-training state dict. Strict except for `idx_queue`, which BLIP_Pretrain does not
 * have (its ITC targets are the identity; here they come from image ids, and empty slots keep the never-matching
 * id -100, which gives the same targets).
 * @throws Error listing missing (other than idx_queue), unexpected or mis-shaped tensors
 */
export function loadSalesforceBlip(model: BLIP, source: Map<string, RawTensor>): LoadStateDictResult {
  const target = model.namedParameters();
  const res = loadStateDict(target, adaptShapes(source, target, salesforceBlipName), { rename: salesforceBlipName, strict: false });
  const missing = res.missing.filter((n) => n !== 'idx_queue');
  if (missing.length > 0 || res.unexpected.length > 0) {
    throw new Error(`loadSalesforceBlip: missing ${missing.length} (${missing.slice(0, 10).join(', ')}), unexpected ${res.unexpected.length} (${res.unexpected.slice(0, 10).join(', ')})`);
  }
  return res;
}
