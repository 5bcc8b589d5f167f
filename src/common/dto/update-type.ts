import { Type } from '@nestjs/common';
import { DECORATORS, PartialType } from '@nestjs/swagger';

/**
 * The body of an update (PUT): the create DTO's fields, all optional, with the same validation, and without the
 * create DTO's `default`s. A field left out of an update keeps its stored value, so a documented default would be
 * untrue; and generators (openapi-typescript) type a field that has a default as always present, which would make
 * clients resend it with every change.
 */
export function UpdateType<T>(create: Type<T>): Type<Partial<T>> {
  const update = PartialType(create, { skipNullProperties: false });
  // PartialType copied each property's OpenAPI metadata onto its class, stored under `:name` in the list.
  const prototype = update.prototype as object;
  const listed = (Reflect.getMetadata(DECORATORS.API_MODEL_PROPERTIES_ARRAY, prototype) as string[] | undefined) ?? [];
  for (const property of listed.map((entry) => entry.slice(1))) {
    const { default: _createDefault, ...metadata } =
      (Reflect.getMetadata(DECORATORS.API_MODEL_PROPERTIES, prototype, property) as Record<string, unknown> | undefined) ?? {};
    Reflect.defineMetadata(DECORATORS.API_MODEL_PROPERTIES, metadata, prototype, property);
  }
  return update;
}
