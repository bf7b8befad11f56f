/** A configuration, option set or rules file that cannot be used; the message names the field and the reason. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'ERR_CONFIG_INVALID';
}
