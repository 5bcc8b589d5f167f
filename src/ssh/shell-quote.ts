/** Quotes `text` as one single-quoted shell word: `'` becomes `'\''`. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The command line the executor runs: a login shell, so the user's environment (PATH, conda, …) applies. */
export function loginShellCommand(command: string): string {
  return `bash -l -c ${shellQuote(command)}`;
}
