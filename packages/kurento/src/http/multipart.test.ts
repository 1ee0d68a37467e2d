import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MultipartFileExtractor, multipartBoundary } from './multipart.js';

const BOUNDARY = '----RoundtableBoundary7MA4YWxkTrZu0gW';

function body(parts: Array<{ headers: string; content: Buffer }>): Buffer {
  const out: Buffer[] = [Buffer.from('preamble to ignore\r\n')];
  for (const p of parts) out.push(Buffer.from(`--${BOUNDARY}\r\n${p.headers}\r\n\r\n`), p.content, Buffer.from('\r\n'));
  out.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(out);
}

/** Runs the extractor over `data` cut into chunks of `size` bytes. */
async function extract(data: Buffer, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
  const out: Buffer[] = [];
  for await (const chunk of Readable.from(chunks).pipe(new MultipartFileExtractor(BOUNDARY))) out.push(chunk as Buffer);
  return Buffer.concat(out);
}

describe('MultipartFileExtractor', () => {
  // Binary content that holds CRLFs, dashes and a near-miss of the delimiter.
  const file = Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), Buffer.from(`\r\n--${BOUNDARY.slice(0, -1)}x\r\n--\r\n`), Buffer.alloc(5000, 7)]);
  const form = body([
    { headers: 'Content-Disposition: form-data; name="title"', content: Buffer.from('my clip') },
    { headers: 'Content-Disposition: form-data; name="file"; filename="clip.webm"\r\nContent-Type: video/webm', content: file },
    { headers: 'Content-Disposition: form-data; name="after"', content: Buffer.from('ignored') },
  ]);

  it('streams the bytes of the first file part exactly, whatever the chunking', async () => {
    for (const size of [1, 2, 3, 7, 40, 41, 64, 1000, form.length]) {
      expect((await extract(form, size)).equals(file), `chunks of ${size}`).toBe(true);
    }
  });

  it('fails on a body without a file part, and on one cut inside the file', async () => {
    const fieldsOnly = body([{ headers: 'Content-Disposition: form-data; name="title"', content: Buffer.from('x') }]);
    await expect(extract(fieldsOnly, 10)).rejects.toThrow(/no file part/);
    await expect(extract(form.subarray(0, form.length - 200), 10)).rejects.toThrow(/not terminated/);
  });

  it('reads the boundary from the Content-Type, quoted or not; other types have none', () => {
    expect(multipartBoundary(`multipart/form-data; boundary=${BOUNDARY}`)).toBe(BOUNDARY);
    expect(multipartBoundary('multipart/form-data; boundary="a b"')).toBe('a b');
    expect(multipartBoundary('video/webm')).toBeUndefined();
    expect(multipartBoundary(undefined)).toBeUndefined();
  });
});
