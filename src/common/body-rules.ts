import { BadRequestException, UnsupportedMediaTypeException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** The body types routes read: JSON everywhere, multipart on the upload routes (parsed there by multer). */
const READABLE_BODY_TYPES = ['application/json', 'multipart/form-data'];
/** Deeper than any DTO or chat request; deeper bodies only serve to exhaust the stack of the transformers. */
export const MAX_BODY_DEPTH = 32;

function hasContent(request: Request): boolean {
  return request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
}

/** A body the backend would not read (text, XML, a form) gets 415 instead of an answer to an empty request. */
export function refuseUnreadableBodies(request: Request, _response: Response, next: NextFunction): void {
  if (!hasContent(request) || request.is(READABLE_BODY_TYPES)) return next();
  const type = request.headers['content-type'];
  next(new UnsupportedMediaTypeException(`Send the body as application/json (multipart/form-data for uploads), not ${type ? JSON.stringify(type.slice(0, 100)) : 'without a Content-Type'}`));
}

/** Whether `value` nests arrays and objects deeper than `limit`; iterative, so any depth is measured safely. */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 1]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > limit) return true;
    for (const inner of Object.values(current)) pending.push([inner, depth + 1]);
  }
  return false;
}

/** Refuses parsed JSON nested deeper than MAX_BODY_DEPTH before any pipe transforms it. */
export function refuseDeeplyNestedBodies(request: Request, _response: Response, next: NextFunction): void {
  if (request.body === null || typeof request.body !== 'object' || !nestedDeeperThan(request.body, MAX_BODY_DEPTH)) return next();
  next(new BadRequestException(`The request body is nested deeper than ${MAX_BODY_DEPTH} levels`));
}

/** Body-parser's parse errors carry JSON.parse's bare message; say what was wrong with the request. */
export function explainBodyParseErrors(error: unknown, _request: Request, _response: Response, next: NextFunction): void {
  if ((error as { type?: string })?.type === 'entity.parse.failed') {
    next(new BadRequestException(`Malformed JSON in request body: ${(error as Error).message}`));
    return;
  }
  next(error);
}
