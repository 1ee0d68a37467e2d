import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What the flooding process saw. */
export interface FloodReport {
  /** How the server closed the socket; null when it was still open when the flooder gave up. */
  close: { code: number; reason: string } | null;
  /** Text frames the server sent back. */
  answers: number;
  /** The different answers (up to 10), for messages. */
  sample: string[];
}

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

// Runs in its own process, so that sending the flood does not block the test's event loop (which measures the server).
const SCRIPT = `
import WebSocket from 'ws';
const [url, frame, count, origin, firstAlone] = process.argv.slice(1);
const ws = new WebSocket(url, origin ? { origin } : {});
const sendAll = (n) => { for (let i = 0; i < n; i++) ws.send(frame); };
let answers = 0;
const sample = [];
const done = (close) => { process.stdout.write(JSON.stringify({ close, answers, sample })); process.exit(0); };
ws.on('message', (data) => {
  answers++;
  const text = String(data);
  if (sample.length < 10 && !sample.includes(text)) sample.push(text);
  if (firstAlone === 'yes' && answers === 1) sendAll(Number(count) - 1);
});
ws.on('open', () => sendAll(firstAlone === 'yes' ? 1 : Number(count)));
ws.on('close', (code, reason) => done({ code, reason: String(reason) }));
ws.on('error', () => undefined);
setTimeout(() => done(null), 20000).unref();
`;

/**
 * Opens a WebSocket from another process and sends `frame` `count` times at once; resolves
 * with what came back once the server has closed the socket (or after 20 s). With
 * `firstAlone`, the first frame goes alone and the rest once it is answered: the sample then
 * holds the answer to a message the server handled, whatever the flood's timing (a socket
 * closed for flooding drops what it had queued, and frames read in one chunk can all be
 * refused before the first queued one is handled).
 */
export function flood(url: string, frame: string, count: number, origin?: string, firstAlone = false): Promise<FloodReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT, url, frame, String(count), origin ?? '', firstAlone ? 'yes' : 'no'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`the flooder exited with ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout) as FloodReport);
    });
  });
}
