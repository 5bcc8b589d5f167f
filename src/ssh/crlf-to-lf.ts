/** A pty's line endings (`\r\n`) as stored output has them (`\n`). */
export function crlfToLf(text: string): string {
  return text.replace(/\r\n/g, '\n');
}

/**
 * Turns every CRLF of a text that arrives in pieces into LF, as `crlfToLf` does to a whole text, so the pieces
 * joined equal what SshExecutor stores. A CR ending a piece is held back until the next piece
 * shows whether an LF follows it.
 */
export class CrlfToLf {
  private heldCr = false;

  write(piece: string): string {
    const text = (this.heldCr ? '\r' : '') + piece;
    this.heldCr = text.endsWith('\r');
    return crlfToLf(this.heldCr ? text.slice(0, -1) : text);
  }

  /** What is still held back once the text is complete. */
  end(): string {
    const rest = this.heldCr ? '\r' : '';
    this.heldCr = false;
    return rest;
  }
}
