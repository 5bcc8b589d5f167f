/**
 * The locale a terminal's channel asks for in its env. LANG only: it is the lowest-precedence locale variable, so a
 * locale the server or the user's profile sets (LANG, LC_CTYPE, LC_ALL...) still wins; LC_ALL would override them all.
 */
export const TERMINAL_ENV = { LANG: 'C.UTF-8' };

/**
 * Ends the output of the locale line: an OSC sequence no program sends (and terminals ignore, should it ever get
 * through). The line prints it with printf escapes, so the line's own echo cannot contain it.
 */
const LOCALE_LINE_DONE = '\x1b]6973;\x07';

/**
 * Typed at the shell's first prompt, because the env may not arrive: OpenSSH drops env requests unless its AcceptEnv
 * allows them (upstream's default allows none), and ssh2 sends them without want_reply, so a refusal goes unseen.
 * It sets LANG only where no locale variable is set at all: the same default a delivered env gives, which any locale the
 * server or the profile sets overrides. Its echo is held back and dropped up to the marker; the marker's `\r\e[K` clears the first prompt's line,
 * which the next prompt then redraws, so the screen looks as if nothing had been typed. The leading space keeps it
 * out of the history of shells that ignore such lines (bash with HISTCONTROL=ignorespace/ignoreboth, Debian's default).
 */
const LOCALE_LINE = ` [ -n "$LANG$LC_ALL$LC_CTYPE" ] || export LANG=${TERMINAL_ENV.LANG}; printf '\\033]6973;\\007\\r\\033[K'\r`;

/** Output quiet for this long counts as a prompt, for prompts that do not end like one. */
const QUIET_MS = 300;
/** How long the locale line's output is held back waiting for its marker before it is shown as it is. */
const HOLD_MS = 3000;
/** Held output past this size is shown rather than held: a shell this busy is not running the locale line. */
const MAX_HELD_CHARS = 64 * 1024;
/** Keystrokes that may wait for the startup to end. */
const MAX_WAITING_INPUT_CHARS = 64 * 1024;

type Phase =
  /** Waiting for the shell's first prompt. */
  | 'first-prompt'
  /** The locale line was typed; its output is held back until its marker. */
  | 'locale'
  /** Waiting for the prompt after the locale line, to type auto_command and the keystrokes that waited. */
  | 'next-prompt'
  | 'done';

/** What a startup does to the terminal: keystrokes to the shell, output to the user outside of `output()`. */
export interface ShellIo {
  type(text: string): void;
  show(text: string): void;
}

/**
 * The start of a terminal's shell, before the user has it: a UTF-8 locale where the env did not give one, then the
 * caller's auto_command, each typed at a prompt. Keystrokes the user sends meanwhile wait, so that they are not run
 * together with a typed line; they are typed after it, in order.
 */
export class ShellStartup {
  private phase: Phase = 'first-prompt';
  /** The end of the output since the last typed line, to recognise a prompt. */
  private tail = '';
  private held = '';
  private readonly waitingInput: string[] = [];
  private waitingChars = 0;
  private promptTimer?: NodeJS.Timeout;
  private holdTimer?: NodeJS.Timeout;

  constructor(
    private readonly io: ShellIo,
    private autoCommand?: string,
  ) {
    // A shell that prints nothing at all (no banner, an empty prompt) still gets its lines.
    this.promptTimer = setTimeout(() => this.atPrompt(), QUIET_MS);
  }

  /** Output of the shell; returns the part to show now. */
  output(text: string): string {
    if (this.phase === 'done') return text;
    if (this.phase === 'locale') return this.hold(text);
    this.watchForPrompt(text);
    return text;
  }

  /** Keystrokes of the user; false when too many are already waiting for the startup to end. */
  input(keys: string): boolean {
    if (this.phase === 'done') {
      this.io.type(keys);
      return true;
    }
    if (this.waitingChars + keys.length > MAX_WAITING_INPUT_CHARS) return false;
    this.waitingInput.push(keys);
    this.waitingChars += keys.length;
    return true;
  }

  /** Stops the startup where it is; returns the output it still held back. */
  end(): string {
    clearTimeout(this.promptTimer);
    clearTimeout(this.holdTimer);
    this.phase = 'done';
    const held = this.held;
    this.held = '';
    return held;
  }

  private watchForPrompt(text: string): void {
    // Typed at the shell's prompt, not into a login banner: when the output ends like a prompt, or once
    // the output has been quiet for a moment (prompts that do not look like one).
    this.tail = (this.tail + text).slice(-256);
    const plain = this.tail.replace(/\x1b\][^\x07]*\x07|\x1b\[[0-9;?]*[A-Za-z]/g, '');
    clearTimeout(this.promptTimer);
    if (/[$#>%] ?$/.test(plain)) this.atPrompt();
    else this.promptTimer = setTimeout(() => this.atPrompt(/[:?] ?$/.test(plain)), QUIET_MS);
  }

  /** `asking`: the output ends like a question (`Current password: `, `Continue? `), not a prompt. */
  private atPrompt(asking = false): void {
    clearTimeout(this.promptTimer);
    this.tail = '';
    if (this.phase === 'first-prompt') {
      // A login that asks something first (an expired password, a profile's question) must not get the locale line
      // as its answer: that shell goes without it.
      if (asking) return this.afterLocale('');
      this.phase = 'locale';
      this.io.type(LOCALE_LINE);
      this.holdTimer = setTimeout(() => this.io.show(this.release()), HOLD_MS);
    } else if (this.phase === 'next-prompt') {
      this.finish();
    }
  }

  private hold(text: string): string {
    this.held += text;
    const marker = this.held.indexOf(LOCALE_LINE_DONE);
    if (marker < 0) return this.held.length > MAX_HELD_CHARS ? this.release() : '';
    const after = this.held.slice(marker + LOCALE_LINE_DONE.length);
    this.held = '';
    clearTimeout(this.holdTimer);
    this.afterLocale(after);
    return after;
  }

  /** Gives up waiting for the marker: what was held is shown as it came. */
  private release(): string {
    const held = this.held;
    this.held = '';
    clearTimeout(this.holdTimer);
    this.afterLocale(held);
    return held;
  }

  private afterLocale(output: string): void {
    if (this.autoCommand === undefined && this.waitingInput.length === 0) return this.finish();
    this.phase = 'next-prompt';
    this.watchForPrompt(output);
  }

  private finish(): void {
    this.phase = 'done';
    if (this.autoCommand !== undefined) this.io.type(`${this.autoCommand}\r`);
    this.autoCommand = undefined;
    for (const keys of this.waitingInput.splice(0)) this.io.type(keys);
    this.waitingChars = 0;
  }
}
