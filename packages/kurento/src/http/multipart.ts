import { Transform, type TransformCallback } from 'node:stream';

/** The boundary of a `multipart/form-data` Content-Type, or undefined for other types. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return undefined;
  const match = /boundary=(?:"([^"]{1,70})"|([^;\s]{1,70}))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

type State = 'preamble' | 'headers' | 'file' | 'skip' | 'done';

const MAX_HEADER_BYTES = 16 * 1024;

/**
 * Streams the content of the first file part of a `multipart/form-data` body (what a
 * browser's form or FormData upload sends), without holding the body in memory.
 * Other parts (plain form fields) are skipped; what follows the file is discarded.
 * Fails when the body holds no file part or a part's headers are malformed.
 */
export class MultipartFileExtractor extends Transform {
  private buffer: Buffer = Buffer.alloc(0);
  private state: State = 'preamble';
  private readonly first: Buffer;
  private readonly delimiter: Buffer;

  constructor(boundary: string) {
    super();
    this.first = Buffer.from(`--${boundary}`);
    this.delimiter = Buffer.from(`\r\n--${boundary}`);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.state === 'done') {
      done();
      return;
    }
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    try {
      this.advance();
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    if (this.state === 'done') done();
    else done(new Error(this.state === 'file' ? 'the file part of the multipart body is not terminated' : 'the multipart body holds no file part'));
  }

  private advance(): void {
    for (;;) {
      switch (this.state) {
        case 'preamble': {
          const at = this.buffer.indexOf(this.first);
          if (at < 0) {
            this.keepTail(this.first.length);
            return;
          }
          // Continue as if the first delimiter had its leading CRLF, like the others.
          this.buffer = Buffer.concat([this.delimiter, this.buffer.subarray(at + this.first.length)]);
          this.state = 'skip';
          break;
        }
        case 'skip': {
          const at = this.buffer.indexOf(this.delimiter);
          if (at < 0) {
            this.keepTail(this.delimiter.length);
            return;
          }
          const after = at + this.delimiter.length;
          if (this.buffer.length < after + 2) return;
          const marker = this.buffer.subarray(after, after + 2).toString('latin1');
          if (marker === '--') throw new Error('the multipart body holds no file part');
          if (marker !== '\r\n') throw new Error('malformed multipart delimiter');
          this.buffer = this.buffer.subarray(after + 2);
          this.state = 'headers';
          break;
        }
        case 'headers': {
          const end = this.buffer.indexOf('\r\n\r\n');
          if (end < 0) {
            if (this.buffer.length > MAX_HEADER_BYTES) throw new Error('multipart part headers too long');
            return;
          }
          const headers = this.buffer.subarray(0, end).toString('utf8');
          this.buffer = this.buffer.subarray(end + 4);
          const disposition = /^content-disposition:(.*)$/im.exec(headers)?.[1] ?? '';
          if (/filename\*?=/i.test(disposition)) {
            this.state = 'file';
          } else {
            // A plain field: skip it up to the next delimiter.
            this.state = 'skip';
          }
          break;
        }
        case 'file': {
          const at = this.buffer.indexOf(this.delimiter);
          if (at < 0) {
            // All but what could be the start of the delimiter is file content.
            const safe = this.buffer.length - (this.delimiter.length - 1);
            if (safe > 0) {
              this.push(this.buffer.subarray(0, safe));
              this.buffer = this.buffer.subarray(safe);
            }
            return;
          }
          if (at > 0) this.push(this.buffer.subarray(0, at));
          this.buffer = Buffer.alloc(0);
          this.state = 'done';
          return;
        }
        case 'done':
          return;
      }
    }
  }

  private keepTail(length: number): void {
    if (this.buffer.length > length) this.buffer = this.buffer.subarray(this.buffer.length - length);
  }
}
