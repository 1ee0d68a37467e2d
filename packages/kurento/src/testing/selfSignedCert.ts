import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SelfSignedCert {
  keyPath: string;
  certPath: string;
  key: Buffer;
  cert: Buffer;
}

/**
 * Writes a fresh self-signed certificate for localhost / 127.0.0.1 into `dir` as
 * `server.key` and `server.crt` (the names Kurento's tutorial apps read from `keys/`).
 * Uses the openssl CLI: Node can make key pairs but not X.509 certificates.
 */
export async function selfSignedCert(dir: string): Promise<SelfSignedCert> {
  await mkdir(dir, { recursive: true });
  const keyPath = join(dir, 'server.key');
  const certPath = join(dir, 'server.crt');
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2',
    '-keyout', keyPath, '-out', certPath,
    '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]);
  return { keyPath, certPath, key: await readFile(keyPath), cert: await readFile(certPath) };
}
