/** A failure the operator can fix (an unknown user, a file that is not the old database): one line, exit code 1. */
export class CommandError extends Error {}
