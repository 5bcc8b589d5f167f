import { CrlfToLf } from './crlf-to-lf';

/** SshExecutor's rule for a pty command's stored output. */
const stored = (text: string) => text.replace(/\r\n/g, '\n');

function streamed(pieces: string[]): string {
  const stream = new CrlfToLf();
  return pieces.map((piece) => stream.write(piece)).join('') + stream.end();
}

describe('CrlfToLf', () => {
  const samples = ['one\r\ntwo\r\n', 'a\r\r\nb', 'cr only\r', '\r\n\r\n', 'progress 1\rprogress 2\r\ndone\r\n', '\n\r', '中文\r\n文'];

  it.each(samples)('joins to the stored output of %j whichever two pieces it arrives in', (text) => {
    for (let split = 0; split <= text.length; split++) {
      expect(streamed([text.slice(0, split), text.slice(split)])).toBe(stored(text));
    }
  });

  it('holds a CR back across several pieces that are only CRs', () => {
    expect(streamed(['x\r', '\r', '\r', '\ny'])).toBe('x\r\r\ny');
    expect(streamed(['x\r', '\r', '\r', '\ny'])).toBe(stored('x\r\r\r\ny'));
  });

  it('gives a held CR back at the end', () => {
    const stream = new CrlfToLf();
    expect(stream.write('end\r')).toBe('end');
    expect(stream.end()).toBe('\r');
    expect(stream.end()).toBe('');
  });
});
