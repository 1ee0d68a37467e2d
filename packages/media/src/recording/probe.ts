import { execFile } from 'node:child_process';

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
          const json = JSON.parse(stdout) as { format?: Record<string, unknown>; streams?: Array<Record<string, unknown>> };
          resolve({
            duration: num(json.format?.duration),
            formatName: String(json.format?.format_name ?? ''),
            streams: (json.streams ?? []).map((s) => ({
              kind: s.codec_type === 'audio' || s.codec_type === 'video' ? s.codec_type : 'other',
              codec: String(s.codec_name ?? ''),
              startTime: num(s.start_time),
              duration: num(s.duration),
              ...(num(s.width) !== undefined ? { width: num(s.width), height: num(s.height) } : {}),
            })),
          });
        } catch (parseError) {
          reject(parseError instanceof Error ? parseError : new Error(String(parseError)));
        }
      },
    );
  });
}
