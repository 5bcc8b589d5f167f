import { BadRequestException, Inject, Injectable, NotFoundException, UnsupportedMediaTypeException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { ReadStream } from 'node:fs';
import { filetypeinfo } from 'magic-bytes.js';
import { storageConfig, StorageConfig } from '../../config/configuration';

/** Image types the contract allows, by extension, with the type their magic bytes must show. */
const IMAGE_TYPES: Record<string, { typename: string; contentType: string }> = {
  png: { typename: 'png', contentType: 'image/png' },
  jpg: { typename: 'jpg', contentType: 'image/jpeg' },
  jpeg: { typename: 'jpg', contentType: 'image/jpeg' },
  gif: { typename: 'gif', contentType: 'image/gif' },
  webp: { typename: 'webp', contentType: 'image/webp' },
};

/** Names we hand out: a fresh UUID and one of the allowed extensions. Nothing else is ever served. */
const STORED_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(png|jpg|jpeg|gif|webp)$/;

export interface StoredUpload {
  filename: string;
  url: string;
}

export interface UploadedImage {
  stream: ReadStream;
  contentType: string;
  size: number;
}

@Injectable()
export class UploadsService {
  constructor(@Inject(storageConfig.KEY) private readonly storage: StorageConfig) {}

  /**
   * Stores an uploaded image under a fresh UUID name. The extension must be an allowed image type
   * and the bytes must really be one: an HTML page renamed to `.png` is refused.
   */
  async storeImage(file: Express.Multer.File | undefined): Promise<StoredUpload> {
    if (!file) throw new BadRequestException('No file part');
    if (!file.originalname) throw new BadRequestException('No selected file');
    return this.storeImageBytes(file.originalname, file.buffer);
  }

  /** `storeImage` for bytes from elsewhere (logos of the legacy import), under the same checks. */
  async storeImageBytes(originalName: string, bytes: Buffer): Promise<StoredUpload> {
    const extension = this.checkImage(originalName, bytes);
    const filename = `${randomUUID()}.${extension}`;
    // DATA_DIR itself stays owner-only when this is what creates it (PostgreSQL with keys from the environment).
    await mkdir(this.storage.dataDir, { recursive: true, mode: 0o700 });
    await mkdir(this.storage.uploadDir, { recursive: true });
    await writeFile(join(this.storage.uploadDir, filename), bytes, { flag: 'wx', mode: 0o644 });
    return { filename, url: `/api/uploads/${filename}` };
  }

  /** The extension `originalName` would be stored with; throws unless it names an allowed image type and the bytes are one. */
  checkImage(originalName: string, bytes: Buffer): string {
    const extension = extname(originalName).slice(1).toLowerCase();
    const declared = IMAGE_TYPES[extension];
    const detected = filetypeinfo(bytes).map((info) => info.typename);
    if (!declared || !detected.includes(declared.typename)) {
      throw new UnsupportedMediaTypeException(`Invalid file type: allowed are ${Object.keys(IMAGE_TYPES).join(', ')} images`);
    }
    return extension;
  }

  async open(filename: string): Promise<UploadedImage> {
    const match = STORED_NAME.exec(filename);
    if (!match) throw new NotFoundException('File not found');
    const path = join(this.storage.uploadDir, filename);
    const info = await stat(path).catch(() => null);
    if (!info?.isFile()) throw new NotFoundException('File not found');
    return { stream: createReadStream(path), contentType: IMAGE_TYPES[match[1]].contentType, size: info.size };
  }
}
