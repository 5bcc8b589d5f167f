import type { OpenAPIObject, OperationObject } from '@nestjs/swagger';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** An operation of the document, with the `x-` extensions our decorators and createOpenApiDocument add. */
export type DocumentedOperation = OperationObject & { [extension: `x-${string}`]: unknown };

/** Every operation of the document, with its HTTP method. */
export function operationsOf(document: OpenAPIObject): { method: string; operation: DocumentedOperation }[] {
  return Object.values(document.paths).flatMap((pathItem) =>
    HTTP_METHODS.filter((method) => pathItem[method] !== undefined).map((method) => ({ method, operation: pathItem[method] as DocumentedOperation })),
  );
}

/**
 * The swagger plugin makes a handler's whole JSDoc comment its `summary`, but generators and UIs show a summary as
 * a one-line title. So a longer comment is split: its first sentence is the summary, the rest leads the description.
 */
export function splitLongSummaries(document: OpenAPIObject): void {
  for (const { operation } of operationsOf(document)) {
    if (!operation.summary) continue;
    const { sentence, rest } = splitFirstSentence(operation.summary);
    operation.summary = sentence;
    if (rest) operation.description = operation.description ? `${rest}\n\n${operation.description}` : rest;
  }
}

/** "e.g." and "i.e." end with a full stop but not a sentence. */
const ABBREVIATION = /\b(e\.g|i\.e)\.$/i;

/**
 * The first sentence on one line, and the text after it as written. A sentence ends at `.`, `!` or `?` followed by
 * white space or the end, outside `code spans` (where `a. b` is no sentence end).
 */
export function splitFirstSentence(text: string): { sentence: string; rest: string } {
  let inCode = false;
  for (let index = 0; index < text.length; index++) {
    const character = text[index];
    if (character === '`') inCode = !inCode;
    if (inCode || !'.!?'.includes(character) || /\S/.test(text[index + 1] ?? ' ')) continue;
    if (ABBREVIATION.test(text.slice(0, index + 1))) continue;
    return { sentence: oneLine(text.slice(0, index + 1)), rest: text.slice(index + 1).trim() };
  }
  return { sentence: oneLine(text), rest: '' };
}

function oneLine(text: string): string {
  return text.trim().replace(/\s+/g, ' ');
}
