/** How an update's body arrived: as JSON, or as a multipart form, perhaps with a `logo_file` part. */
export interface UpdateSource {
  form: boolean;
  logoFile?: Express.Multer.File;
}

/**
 * What an update stores for an optional field (`undefined`: leave it as it is). In JSON a field left out keeps its
 * value. The admin UI's forms leave out a field the user has emptied, and the old backend rewrote every column, so
 * in a form a field left out is cleared.
 */
export function nullIfLeftOutOfForm<T>(value: T | undefined, source: UpdateSource): T | null | undefined {
  return value === undefined && source.form ? null : value;
}
