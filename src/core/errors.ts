// Errors a user fixes by changing what they asked for (the CLI prints them without a stack, exit code 2).
// In a module of their own so that the command line can recognise them without loading the engine.

/** A bad configuration value or key; the message names the dotted key (or file) and what is allowed. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A bad recipe: an unknown component, two components in one slot, an empty part. */
export class RecipeError extends Error {
  override name = 'RecipeError';
}
