export class UploadResponse {
  /** Where the file is served, e.g. `/api/uploads/<uuid>.png`. */
  url: string;
  /** The stored name: a fresh UUID and the extension. */
  filename: string;
}
