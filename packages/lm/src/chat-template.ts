/**
 * Chat templates: the Jinja template a Hugging Face `tokenizer_config.json` carries as `chat_template` (what
 * transformers' `apply_chat_template` renders), rendered with `@huggingface/jinja` (pure JS, browser-safe). mmzoo run
 * folders keep theirs in the same place: a `tokenizer_config.json` in the run folder (see README "Generating text").
 */
import { Template } from '@huggingface/jinja';

/** One turn of a conversation, as chat templates expect it. */
export interface ChatMessage {
  /** 'system', 'user' or 'assistant' */
  role: string;
  content: string;
}

/** Special tokens and flags a template may use besides `messages`. */
export interface ChatTemplateContext {
  /** the begin-of-sequence token text (e.g. `<s>`), '' when the tokenizer has none */
  bos_token: string;
  /** the end-of-sequence token text (e.g. `</s>`), '' when the tokenizer has none */
  eos_token: string;
  /** end the text with the assistant's turn opening, so that the model's continuation is the answer (default true) */
  add_generation_prompt?: boolean;
}

/**
 * The chat template of a parsed `tokenizer_config.json`: `chat_template` as a string, or the template named
 * `default` in the list form (`[{name, template}, ...]`) newer files use.
 * @param where names the file in errors
 * @returns the template, or undefined when the config has none
 * @throws Error `<where>: chat_template must be a string or a list of {name, template}` for any other value
 */
export function chatTemplateOf(tokenizerConfig: Record<string, unknown>, where: string): string | undefined {
  const t = tokenizerConfig.chat_template;
  if (t === undefined || t === null) return undefined;
  if (typeof t === 'string') return t;
  if (Array.isArray(t) && t.every((e) => e && typeof e.name === 'string' && typeof e.template === 'string')) {
    const named = t as { name: string; template: string }[];
    return (named.find((e) => e.name === 'default') ?? named[0])?.template;
  }
  throw new Error(`${where}: chat_template must be a string or a list of {name, template}, got ${JSON.stringify(t).slice(0, 60)}`);
}

/**
 * Renders a conversation with a chat template, as transformers' `apply_chat_template(messages, tokenize=False)`:
 * the template sees `messages`, `bos_token`, `eos_token`, `add_generation_prompt` and (from the library) `raise_exception(msg)`.
 * The result already holds the template's special tokens as text: encode it without adding special tokens.
 * @throws Error `chat template: <message>` when the template does not parse or raises while rendering
 */
export function renderChat(template: string, messages: readonly ChatMessage[], ctx: ChatTemplateContext): string {
  try {
    return new Template(template).render({
      messages: messages.map((m) => ({ ...m })),
      bos_token: ctx.bos_token,
      eos_token: ctx.eos_token,
      add_generation_prompt: ctx.add_generation_prompt ?? true,
    });
  } catch (e) {
    throw new Error(`chat template: ${e instanceof Error ? e.message : String(e)}`.split('\n')[0]);
  }
}
