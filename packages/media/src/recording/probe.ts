import { execFile, spawn } from 'node:child_process';

export interface ProbedStream {
  kind: 'audio' | 'video' | 'other';
  codec: string;
  /** Seconds, when the container says. */
  startTime: number | undefined;
  duration: number | undefined;
  width?: number;
  height?: number;
}

export interface ProbeResult {
  /** Seconds; undefined for live sources or files without a duration. */
  duration: number | undefined;
  formatName: string;
  streams: ProbedStream[];
}

const num = (v: unknown): number | undefined => {
  const n = typeof v === 'string' || typeof v === 'number' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};

/** What ffprobe says about a file or URL (codecs, duration). Rejects with ffprobe's message. */
export function probeMedia(input: string, options: { ffprobe?: string; timeoutMs?: number } = {}): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    execFile(
      options.ffprobe ?? 'ffprobe',
      ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', input],
      { timeout: options.timeoutMs ?? 15_000, maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(stderr.trim() || error.message));
          return;
        }
        try {
          resolve(parseProbe(stdout));
        } catch (parseError) {
          reject(parseError instanceof Error ? parseError : new Error(String(parseError)));
        }
      },
    );
  });
}

/**
 * What ffprobe says about the start of a stream (`head`, given on its stdin): its
 * tracks. A container that needs its end to be read (MP4 with the index last) fails.
 */
export function probeHead(head: Buffer, options: { ffprobe?: string; timeoutMs?: number } = {}): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.ffprobe ?? 'ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '-i', 'pipe:0'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined); // ffprobe may stop reading early
    child.stdin.end(head);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(stderr.trim() || `ffprobe exited with ${String(code)}`));
        return;
      }
      try {
        resolve(parseProbe(stdout));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

function parseProbe(stdout: string): ProbeResult {
  const json = JSON.parse(stdout) as { format?: Record<string, unknown>; streams?: Array<Record<string, unknown>> };
  return {
    duration: num(json.format?.duration),
    formatName: String(json.format?.format_name ?? ''),
    streams: (json.streams ?? []).map((s) => ({
      kind: s.codec_type === 'audio' || s.codec_type === 'video' ? s.codec_type : 'other',
      codec: String(s.codec_name ?? ''),
      startTime: num(s.start_time),
      duration: num(s.duration),
      ...(num(s.width) !== undefined ? { width: num(s.width), height: num(s.height) } : {}),
    })),
  };
}
