import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

/** What gst-inspect-1.0 tells about one element factory. */
export interface ElementInfo {
  name: string;
  /** Media types of the always-sink pads' templates (e.g. "video/x-raw", "ANY"). */
  sinkCaps: string[];
  /** Media types of the src pads' templates. */
  srcCaps: string[];
  /** Property names. */
  properties: Set<string>;
}

const cache = new Map<string, Promise<ElementInfo | undefined>>();

/**
 * Asks gst-inspect-1.0 about an element factory, once per process (the answer is
 * cached): undefined when this machine's GStreamer has no such element.
 */
export function inspectElement(name: string, gstInspect = 'gst-inspect-1.0'): Promise<ElementInfo | undefined> {
  const key = `${gstInspect}\0${name}`;
  let answer = cache.get(key);
  if (!answer) {
    answer = new Promise((resolve) => {
      execFile(gstInspect, [name], { timeout: 10_000, maxBuffer: 4 * 1024 * 1024 }, (error, stdout) => {
        resolve(error ? undefined : parseInspect(name, stdout));
      });
    });
    cache.set(key, answer);
  }
  return answer;
}

/** The first of `names` this machine's GStreamer lacks, if any. */
export async function missingElement(names: string[], gstInspect?: string): Promise<string | undefined> {
  for (const name of names) if (!(await inspectElement(name, gstInspect))) return name;
  return undefined;
}

/** OpenCV's frontal face Haar cascade, which `facedetect` loads by default (Debian's opencv-data). */
export const FACE_CASCADE = '/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml';

export function faceCascadeInstalled(): boolean {
  return existsSync(FACE_CASCADE);
}

export function parseInspect(name: string, text: string): ElementInfo {
  const info: ElementInfo = { name, sinkCaps: [], srcCaps: [], properties: new Set() };
  const lines = text.split('\n');
  let section = '';
  let template: 'sink' | 'src' | undefined;
  let inCaps = false;
  for (const line of lines) {
    if (/^\S/.test(line)) {
      section = line.trim();
      template = undefined;
      continue;
    }
    if (section.startsWith('Pad Templates')) {
      const t = /^ {2}(SINK|SRC) template:/.exec(line);
      if (t) {
        template = t[1] === 'SINK' ? 'sink' : 'src';
        inCaps = false;
        continue;
      }
      if (/^ {4}Capabilities:/.test(line)) {
        inCaps = true;
        continue;
      }
      const cap = /^ {6}([A-Za-z]+(?:\/[A-Za-z0-9.+-]+)?)\s*$/.exec(line);
      if (template && inCaps && cap) (template === 'sink' ? info.sinkCaps : info.srcCaps).push(cap[1]!);
    } else if (section.startsWith('Element Properties')) {
      const prop = /^ {2}([a-z][a-z0-9-]*)\s+:/.exec(line);
      if (prop) info.properties.add(prop[1]!);
    }
  }
  return info;
}
