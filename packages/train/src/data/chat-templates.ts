/**
 * The conversation templates the chat LM is instruction-tuned in (issue 16, "A chat LM") and that the VLMs of issues
 * 17 and 18 reuse, and their Hugging Face `chat_template` (jinja) for `tokenizer_config.json`.
 *
 * - `llava_v1`: LLaVA's `conv_llava_v1` (haotian-liu/LLaVA, llava/conversation.py: `SeparatorStyle.TWO`, sep `" "`,
 *   sep2 `"</s>"`, roles `USER` / `ASSISTANT`): `{system} USER: {q} ASSISTANT: {a}</s>USER: {q2} ASSISTANT: {a2}</s>`,
 *   with the system prompt {@link LLAVA_V1_SYSTEM}; a generation prompt ends with `ASSISTANT:`.
 * - `minigpt4`: MiniGPT-4's training wrap (Vision-CAIR/MiniGPT-4, `prompt_template: '###Human: {} ###Assistant: '`,
 *   `end_sym: "###"`; its `CONV_VISION` joins turns with the same `###`): `###Human: {q} ###Assistant: {a}###Human:
 *   {q2} ###Assistant: {a2}###`, no system prompt.
 *
 * `</s>` is the tokenizer's end-of-sequence token (LLaMA's `</s>`; the base run's BPE calls it `<|endoftext|>`), so the
 * jinja writes `eos_token`; every sequence starts with `bos_token` (the base run's documents start with its end token,
 * which the saved tokenizer_config.json names as `bos_token` too, as GPT-2's does). `###` is text. The text of a turn
 * is cut so that the answer starts with its space (`ASSISTANT:` | ` Yes</s>`): a byte-level BPE splits there anyway,
 * so tokenizing the pieces one by one gives the ids of the whole rendered text.
 *
 * With an image (the bridge models of issue 17, LLaVA), the first question carries it as each system writes it: LLaVA
 * `<image>\n{q}` (llava/train/train.py puts `DEFAULT_IMAGE_TOKEN + '\n'` before the first human message), MiniGPT-4
 * `<Img><ImageHere></Img> {q}` (its `prompt_template` filled with an alignment.txt instruction); the placeholder
 * (`<image>`, `<ImageHere>`) becomes an image piece, which a tokenizer turns into core's `IMAGE_TOKEN_INDEX`.
 */

/** The names of the templates ({@link CHAT_TEMPLATES}). */
export const CHAT_TEMPLATE_NAMES = ['llava_v1', 'minigpt4'] as const;

/** One of {@link CHAT_TEMPLATE_NAMES}. */
export type ChatTemplateName = (typeof CHAT_TEMPLATE_NAMES)[number];

/** LLaVA's v1 system prompt (`conv_llava_v1.system`). */
export const LLAVA_V1_SYSTEM = "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";

/** How a template lays out turns: prompt text around each question, then `' ' + answer + end`. */
export interface ChatTemplate {
  name: ChatTemplateName;
  /** the system prompt ('' for none) */
  system: string;
  /** the text before the first question (after the start token): the system prompt and its separator */
  start: string;
  /** before every question */
  user: string;
  /** after every question: the assistant's role, up to its colon (the answer's space belongs to the answer) */
  assistant: string;
  /** after every answer: the end token (`eos`) or this text */
  end: 'eos' | string;
  /** how the image joins the first question (`{}`: the question), for conversations about an image */
  imagePrompt: string;
  /** the placeholder in `imagePrompt` where the image goes (an image piece) */
  imageToken: string;
}

/** The templates by name (see the module comment for their sources). */
export const CHAT_TEMPLATES: { readonly [N in ChatTemplateName]: ChatTemplate } = {
  llava_v1: {
    name: 'llava_v1', system: LLAVA_V1_SYSTEM, start: `${LLAVA_V1_SYSTEM} `, user: 'USER: ', assistant: ' ASSISTANT:', end: 'eos',
    imagePrompt: '<image>\n{}', imageToken: '<image>',
  },
  minigpt4: {
    name: 'minigpt4', system: '', start: '###', user: 'Human: ', assistant: ' ###Assistant:', end: '###',
    imagePrompt: '<Img><ImageHere></Img> {}', imageToken: '<ImageHere>',
  },
};

/** One exchange: the human's message and the assistant's answer. */
export interface ChatTurn {
  user: string;
  assistant: string;
}

/**
 * A rendered conversation as pieces: the start token, then per turn the prompt text (not scored) and the answer text
 * (scored, with `eos` after it for templates that end answers with the end token); an image piece (never scored) is
 * where a visual soft prompt goes, `image` its placeholder as the template writes it.
 */
export type ChatPiece = { special: 'bos' | 'eos'; counted: boolean } | { text: string; counted: boolean } | { image: string; counted: false };

/**
 * `text` split at its first `placeholder` into text, image, text pieces (not scored; empty text left out).
 * @throws Error when `text` does not contain `placeholder`
 */
export function splitAtImage(text: string, placeholder: string): ChatPiece[] {
  const at = text.indexOf(placeholder);
  if (at < 0) throw new Error(`splitAtImage: no image placeholder '${placeholder}' in ${JSON.stringify(text)}`);
  const before = text.slice(0, at);
  const after = text.slice(at + placeholder.length);
  return [
    ...(before ? [{ text: before, counted: false }] : []), { image: placeholder, counted: false as const },
    ...(after ? [{ text: after, counted: false }] : []),
  ];
}

/**
 * The pieces of `turns` in `template`; with `generation`, the last turn's answer is left out (the prompt a model
 * answers: it ends with the assistant's role and colon); with `image`, the first question carries the image as
 * `template.imagePrompt` writes it, its placeholder an image piece.
 * @throws Error when there are no turns
 */
export function chatPieces(template: ChatTemplate, turns: readonly ChatTurn[], generation = false, image = false): ChatPiece[] {
  if (turns.length === 0) throw new Error('chatPieces: a conversation needs at least one turn');
  const out: ChatPiece[] = [{ special: 'bos', counted: false }];
  turns.forEach((t, i) => {
    const user = i === 0 && image ? template.imagePrompt.replace('{}', t.user) : t.user;
    const prompt = `${i === 0 ? template.start : ''}${template.user}${user}${template.assistant}`;
    if (i === 0 && image) out.push(...splitAtImage(prompt, template.imageToken));
    else out.push({ text: prompt, counted: false });
    if (generation && i === turns.length - 1) return;
    out.push({ text: ` ${t.assistant}${template.end === 'eos' ? '' : template.end}`, counted: true });
    if (template.end === 'eos') out.push({ special: 'eos', counted: true });
  });
  return out;
}

/**
 * The text of pieces with the start and end tokens spelt `tokens.bos` / `tokens.eos` (what the jinja template renders)
 * and an image as `tokens.image` (default: its placeholder).
 */
export function chatText(pieces: readonly ChatPiece[], tokens: { bos: string; eos: string; image?: string }): string {
  return pieces.map((p) => ('text' in p ? p.text : 'image' in p ? tokens.image ?? p.image : tokens[p.special])).join('');
}

/** A jinja string literal of `s` (single-quoted; backslashes and quotes escaped). */
function jinjaString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The Hugging Face `chat_template` (jinja, over `messages` of `{role, content}` with roles `system`, `user`,
 * `assistant`) that renders exactly {@link chatText} of {@link chatPieces}: a leading `system` message replaces the
 * template's system prompt (`llava_v1`; `minigpt4` has none and ignores it). A user message is always followed by the
 * assistant's role, so messages ending with a user message render the generation prompt whatever
 * `add_generation_prompt` says. One line, no whitespace control: every space is the template's own.
 */
export function chatTemplateJinja(template: ChatTemplate): string {
  const end = template.end === 'eos' ? '{{ eos_token }}' : template.end;
  const system = template.system
    ? `{% if messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] %}{% set loop_messages = messages[1:] %}`
      + `{% else %}{% set system = ${jinjaString(template.system)} %}{% set loop_messages = messages %}{% endif %}`
      + `{{ bos_token }}{{ system }}${template.start.slice(template.system.length)}`
    : `{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% else %}{% set loop_messages = messages %}{% endif %}`
      + `{{ bos_token }}${template.start}`;
  return system
    + `{% for message in loop_messages %}`
    + `{% if message['role'] == 'user' %}${template.user}{{ message['content'] }}${template.assistant}`
    + `{% elif message['role'] == 'assistant' %} {{ message['content'] }}${end}`
    + `{% endif %}{% endfor %}`;
}
