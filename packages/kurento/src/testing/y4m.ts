import { readFile } from 'node:fs/promises';

/** An I420 picture: the Y plane, then U, then V (each a quarter of Y). */
export interface I420Frame {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * The first picture of a YUV4MPEG2 (.y4m) file in 4:2:0, e.g. a still face clip made
 * by `makeFaceClip({ output: 'x.y4m' })`, to feed a libwebrtc video source.
 */
export async function readY4mFrame(path: string): Promise<I420Frame> {
  const file = await readFile(path);
  const headerEnd = file.indexOf(0x0a);
  const header = file.subarray(0, headerEnd).toString('latin1');
  if (!header.startsWith('YUV4MPEG2 ')) throw new Error(`${path} is not a YUV4MPEG2 file`);
  const field = (tag: string): string | undefined => header.split(' ').find((f) => f.startsWith(tag))?.slice(1);
  const width = Number(field('W'));
  const height = Number(field('H'));
  const colour = field('C') ?? '420jpeg';
  if (!colour.startsWith('420')) throw new Error(`${path}: colour space ${colour}, not 4:2:0`);
  const frameStart = file.indexOf(0x0a, headerEnd + 1) + 1; // after "FRAME...\n"
  const size = (width * height * 3) / 2;
  if (file.length < frameStart + size) throw new Error(`${path}: no complete picture`);
  return { width, height, data: new Uint8Array(file.subarray(frameStart, frameStart + size)) };
}
