/** Single-item captions for Fashion-MNIST images, generated from labels (browser-safe). */
import { FMNIST_SYNONYMS, fillTemplate } from './fmnist-classes';
import { Rng } from '@mmzoo/core';

/** Caption templates for one item; `{}` is a class noun phrase (see {@link fillTemplate}). */
export const CAPTION_TEMPLATES: readonly string[] = [
  'a {}.',
  'a photo of a {}.',
  'this is a {}.',
  'an image showing a {}.',
  'a grey picture of a {}.',
  'a single {} on a black background.',
  'a close-up of a {}.',
  'a small photo of the {}.',
];

function checkLabel(label: number): void {
  if (!Number.isInteger(label) || label < 0 || label >= FMNIST_SYNONYMS.length) {
    throw new RangeError(`Fashion-MNIST label ${label} out of range 0-9`);
  }
}

/**
 * A caption for one Fashion-MNIST item: a random template filled with a random synonym of its class.
 * Consumes exactly two draws of `rng`, so the same rng state gives the same caption.
 * @param label class index 0-9
 * @returns e.g. "a photo of a sneaker.", "this is a pair of trousers."
 * @throws RangeError when `label` is not in 0-9
 */
export function captionFor(label: number, rng: Rng, templates: readonly string[] = CAPTION_TEMPLATES): string {
  checkLabel(label);
  const template = rng.choice(templates);
  const noun = rng.choice(FMNIST_SYNONYMS[label]);
  return fillTemplate(template, noun);
}

/**
 * One caption per label, deterministic from `seed`: caption i depends only on `seed` and i and labels[i]
 * (each uses `new Rng(seed).fork(i)`), so subsets and reorderings keep their captions.
 * @throws RangeError when a label is not in 0-9
 */
export function captionsFor(labels: ArrayLike<number>, seed: number): string[] {
  const root = new Rng(seed);
  const out: string[] = [];
  for (let i = 0; i < labels.length; i++) out.push(captionFor(labels[i], root.fork(i)));
  return out;
}
