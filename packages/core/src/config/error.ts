/**
 * A configuration error that names where it is: `file:line:col: yaml.path: message`.
 * Thrown for malformed YAML, unknown keys and wrong types; the CLI prints the message as one line and exits 2.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
