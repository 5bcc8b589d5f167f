import type { OpenAPIObject } from '@nestjs/swagger';
import { splitFirstSentence, splitLongSummaries } from './openapi-document';

describe('splitFirstSentence', () => {
  it('keeps a one-sentence text whole, on one line', () => {
    expect(splitFirstSentence('Lists brands ordered by `sort_order`,\nnewest first.')).toEqual({
      sentence: 'Lists brands ordered by `sort_order`, newest first.',
      rest: '',
    });
  });

  it('ends the sentence at the first full stop, question or exclamation mark before white space', () => {
    expect(splitFirstSentence('Serves an image. Unknown names are a 404.')).toEqual({
      sentence: 'Serves an image.',
      rest: 'Unknown names are a 404.',
    });
    expect(splitFirstSentence('Is it up? Ask it.\nThen wait!')).toEqual({ sentence: 'Is it up?', rest: 'Ask it.\nThen wait!' });
  });

  it('does not end a sentence inside code, in a number or in "e.g."', () => {
    expect(splitFirstSentence('Calls `a. b` with e.g. 1.5 seconds of timeout. Then stops.')).toEqual({
      sentence: 'Calls `a. b` with e.g. 1.5 seconds of timeout.',
      rest: 'Then stops.',
    });
  });

  it('keeps the line breaks of the rest, which may be a Markdown list', () => {
    expect(splitFirstSentence('Proxies completions. Answers:\n- 200 as is;\n- 5xx as 502.').rest).toBe('Answers:\n- 200 as is;\n- 5xx as 502.');
  });
});

describe('splitLongSummaries', () => {
  it('moves all but the first sentence of a summary ahead of the description', () => {
    const document = {
      paths: {
        '/a': {
          get: { summary: 'Runs it. Waits for it.', description: 'See also b.', responses: {} },
          post: { summary: 'Creates one.', responses: {} },
        },
      },
    } as unknown as OpenAPIObject;

    splitLongSummaries(document);

    expect(document.paths['/a'].get).toMatchObject({ summary: 'Runs it.', description: 'Waits for it.\n\nSee also b.' });
    expect(document.paths['/a'].post).toEqual({ summary: 'Creates one.', responses: {} });
  });
});
