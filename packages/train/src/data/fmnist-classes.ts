/**
 * Fashion-MNIST class names, synonyms and zero-shot prompt templates (browser-safe).
 * Class order and names: https://github.com/zalandoresearch/fashion-mnist (label 0-9).
 */

/** The 10 official class names, indexed by label 0-9. */
export const FMNIST_CLASS_NAMES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/**
 * Lower-case noun phrases naming each class, indexed by label; each takes the article "a"/"an".
 * The first entry is the class's short name ({@link FMNIST_SHORT_NAMES}), used in answers and canonical
 * descriptions; the others are synonyms used to vary captions. No phrase belongs to two classes.
 */
export const FMNIST_SYNONYMS: readonly (readonly string[])[] = [
  ['t-shirt', 'tee', 'top', 'tee shirt'],
  ['trouser', 'pair of trousers', 'pair of pants', 'pair of slacks'],
  ['pullover', 'sweater', 'jumper', 'sweatshirt'],
  ['dress', 'gown', 'frock', 'sundress'],
  ['coat', 'jacket', 'overcoat', 'parka'],
  ['sandal', 'summer sandal', 'open-toed shoe', 'strappy sandal'],
  ['shirt', 'button-up shirt', 'blouse', 'collared shirt'],
  ['sneaker', 'trainer', 'running shoe', 'sports shoe'],
  ['bag', 'handbag', 'purse', 'tote bag'],
  ['ankle boot', 'boot', 'bootie', 'short boot'],
];

/** The short lower-case name of each class (first synonym), indexed by label: 't-shirt', ..., 'ankle boot'. */
export const FMNIST_SHORT_NAMES: readonly string[] = FMNIST_SYNONYMS.map((s) => s[0]);

/**
 * Zero-shot classification prompt templates for class-prompt ensembling (as in CLIP): `{}` stands for a
 * class noun phrase; an "a {}" becomes "an {}" before a vowel (see {@link fillTemplate}).
 */
export const FMNIST_PROMPT_TEMPLATES: readonly string[] = [
  'a photo of a {}.',
  'a picture of the {}.',
  'a grey image of a {}.',
  'a low resolution photo of a {}.',
  'a black and white photo of the {}.',
  'a small image of a {}.',
  'a product photo of a {}.',
  'a centered photo of a {}.',
];

/** "a" or "an" for a noun phrase, by its first letter (vowel: "an"). Keeps the capitalisation of `article`. */
export function articleFor(noun: string, article = 'a'): string {
  const an = /^[aeiou]/i.test(noun);
  const lower = an ? 'an' : 'a';
  return article[0] === 'A' ? lower[0].toUpperCase() + lower.slice(1) : lower;
}

/**
 * Puts `noun` into a template's `{}` placeholders, fixing the article before it: "a {}" with
 * "ankle boot" gives "an ankle boot".
 */
export function fillTemplate(template: string, noun: string): string {
  return template.replace(/(\b[Aa]n? )?\{\}/g, (_m, article?: string) =>
    article ? `${articleFor(noun, article)} ${noun}` : noun,
  );
}

/**
 * The zero-shot prompts for one class: every template filled with each of the class's names.
 * @param label class index 0-9
 * @param names 'short' (default): the short name only, templates.length prompts; 'all': every synonym too
 * @param templates prompt templates (default {@link FMNIST_PROMPT_TEMPLATES})
 * @throws RangeError when `label` is not in 0-9
 */
export function classPrompts(
  label: number,
  names: 'short' | 'all' = 'short',
  templates: readonly string[] = FMNIST_PROMPT_TEMPLATES,
): string[] {
  if (!Number.isInteger(label) || label < 0 || label >= FMNIST_SYNONYMS.length) {
    throw new RangeError(`Fashion-MNIST label ${label} out of range 0-9`);
  }
  const nouns = names === 'all' ? FMNIST_SYNONYMS[label] : [FMNIST_SHORT_NAMES[label]];
  return nouns.flatMap((noun) => templates.map((t) => fillTemplate(t, noun)));
}
