import { applyDecorators, Type } from '@nestjs/common';
import { ApiConsumes, ApiExtension, ApiExtraModels, getSchemaPath, OpenAPIObject } from '@nestjs/swagger';
import { operationsOf } from '../openapi-document';

const MULTIPART = 'multipart/form-data';
const FORM_SCHEMA = 'x-form-schema';

/**
 * The route reads its body DTO as JSON, or as a multipart form described by `form`: the DTO's fields as text parts,
 * plus file parts, which the route's upload interceptor takes out of the body. nestjs/swagger would document both
 * content types with the DTO's schema; createOpenApiDocument gives the multipart one `form`'s (useFormSchemas).
 */
export function ApiJsonOrFormBody(form: Type<unknown>): MethodDecorator {
  return applyDecorators(ApiConsumes('application/json', MULTIPART), ApiExtraModels(form), ApiExtension(FORM_SCHEMA, getSchemaPath(form)));
}

/** Puts the form schema of every ApiJsonOrFormBody route on its multipart body. */
export function useFormSchemas(document: OpenAPIObject): void {
  for (const { operation } of operationsOf(document)) {
    const form = operation[FORM_SCHEMA];
    if (typeof form !== 'string') continue;
    delete operation[FORM_SCHEMA];
    const multipart = operation.requestBody && 'content' in operation.requestBody ? operation.requestBody.content[MULTIPART] : undefined;
    if (!multipart) throw new Error(`${operation.operationId}: ApiJsonOrFormBody on a route without a multipart body`);
    multipart.schema = { $ref: form };
  }
}
