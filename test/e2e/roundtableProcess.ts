/**
 * `roundtable start` as a child process of a test (the cluster tests: signaling and
 * media nodes on Redis), resolved once it says it listens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../packages/server/bin/roundtable.mjs', import.meta.url));

export interface RoundtableProcess {
  child: ChildProcess;
  /** Base URL (http://127.0.0.1:PORT/). */
  url: string;
  /** The endpoints it announced (those its role serves). */
  ws: string | undefined;
  kurento: string | undefined;
  metrics: string | undefined;
  /** Its stdout (log lines) so far. */
  log: () => string;
  exited: Promise<unknown>;
}

/** Runs `roundtable <args>` in `cwd` with only PATH in its environment; the child is added to `running` (for the file's clean-up). */
export function startRoundtable(args: string[], cwd: string, running: ChildProcess[]): Promise<RoundtableProcess> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env['PATH'] ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise<RoundtableProcess>((resolve, reject) => {
    let listening = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (listening) return;
      const line = stdout.split('\n').find((l) => l.includes('"event":"listening"'));
      if (!line) return;
      listening = true;
      const said = JSON.parse(line) as { url: string; signaling?: string; kurento?: string; metrics?: string };
      resolve({ child, url: said.url, ws: said.signaling, kurento: said.kurento, metrics: said.metrics, log: () => stdout, exited });
    });
    void exited.then(() => reject(new Error(`the node exited before listening: ${stdout}${stderr}`)));
  });
}
