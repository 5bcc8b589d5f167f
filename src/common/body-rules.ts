import { BadRequestException, UnsupportedMediaTypeException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** The body types routes read: JSON everywhere, multipart on the upload routes (parsed there by multer). */
const READABLE_BODY_TYPES = ['application/json', 'multipart/form-data'];
/** Deeper than any DTO or chat request. */
export const MAX_BODY_DEPTH = 32;

function hasContent(request: Request): boolean {
  return request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
}

/** A body the backend would not read (text, XML, a form) gets 415 instead of an answer to an empty request. */
export function refuseUnreadableBodies(request: Request, _response: Response, next: NextFunction): void {
  if (!hasContent(request) || request.is(READABLE_BODY_TYPES)) return next();
  const type = request.headers['content-type'];
  next(
    new UnsupportedMediaTypeException(
      `Send the body as application/json (multipart/form-data for uploads), not ${type ? JSON.stringify(type.slice(0, 100)) : 'without a Content-Type'}`,
    ),
  );
}

/** Why parsed input is refused, and the field at fault when there is one (as `details` of the 400 name it). */
export interface InputProblem {
  message: string;
  field?: string;
}

/**
 * What no route can take in parsed input, or undefined: nesting deeper than MAX_BODY_DEPTH (deeper input only
 * serves to exhaust the stack of the transformers), or a NUL character, which no database column stores (PostgreSQL
 * refuses it outright). Iterative, so any depth is measured safely.
 */
export function unacceptableInput(value: unknown, where: 'body' | 'query'): InputProblem | undefined {
  const pending: Array<[unknown, number, string]> = [[value, 1, '']];
  while (pending.length > 0) {
    const [current, depth, path] = pending.pop()!;
    if (typeof current === 'string') {
      if (!current.includes('\u0000')) continue;
      const field = path || where;
      return { message: `${where === 'query' ? 'Query parameter ' : ''}${field} must not contain NUL characters`, field };
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth > MAX_BODY_DEPTH) return { message: `The request ${where} is nested deeper than ${MAX_BODY_DEPTH} levels` };
    for (const [key, inner] of Object.entries(current)) {
      if (key.includes('\u0000')) return { message: 'Field names must not contain NUL characters' };
      if (inner !== null && (typeof inner === 'object' || typeof inner === 'string')) pending.push([inner, depth + 1, path ? `${path}.${key}` : key]);
    }
  }
  return undefined;
}

/** Refuses, before any guard or pipe reads them, a parsed body or query that no route can take (see unacceptableInput). */
export function refuseUnacceptableInput(request: Request, _response: Response, next: NextFunction): void {
  const problem = unacceptableInput(request.body, 'body') ?? unacceptableInput(request.query, 'query');
  if (!problem) return next();
  const details = problem.field ? [{ field: problem.field, messages: [problem.message] }] : undefined;
  next(new BadRequestException(details ? { message: problem.message, details } : problem.message));
}

/** Body-parser's errors, by type, in words for the caller. */
const BODY_PARSER_MESSAGES: Record<string, string> = {
  'entity.parse.failed': 'Malformed JSON in request body',
  'entity.too.large': 'Request body too large',
  'encoding.unsupported': 'Unsupported request body encoding',
  'charset.unsupported': 'Unsupported request body charset',
  'request.aborted': 'Request aborted',
};

/** What went wrong reading the body, for the caller; undefined for an error body-parser did not raise. */
export function describeBodyParserError(error: unknown): string | undefined {
  const { type, message } = (error ?? {}) as { type?: string; message?: string };
  if (type === undefined) return undefined;
  // JSON.parse's text says where the JSON broke.
  return type === 'entity.parse.failed' ? `${BODY_PARSER_MESSAGES[type]}: ${message}` : BODY_PARSER_MESSAGES[type];
}

/**
 * Body-parser's parse errors are SyntaxErrors, which Nest answers with JSON.parse's bare text before the exception
 * filter could tell them from any other: they are described here, while they still say what they are.
 */
export function explainBodyParseErrors(error: unknown, _request: Request, _response: Response, next: NextFunction): void {
  if ((error as { type?: string })?.type === 'entity.parse.failed') {
    next(new BadRequestException(describeBodyParserError(error)));
    return;
  }
  next(error);
}
