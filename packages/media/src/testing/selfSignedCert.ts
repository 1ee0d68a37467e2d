import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  /** PEM, to trust the certificate as a CA in clients. */
  cert: string;
  key: string;
}

/**
 * A self-signed certificate for localhost and 127.0.0.1 (P-256, one day), written to
 * `dir` (made if missing) by the openssl command (Debian's ca-certificates depends on it,
 * so CI has it): as `<name>-cert.pem` and `<name>-key.pem`, or under the file names
 * given (Kurento's tutorial apps read `keys/server.crt` and `keys/server.key`). Test-only.
 */
export function selfSignedCert(dir: string, name: string | { cert: string; key: string } = 'localhost'): TestCertificate {
  mkdirSync(dir, { recursive: true });
  const certFile = join(dir, typeof name === 'string' ? `${name}-cert.pem` : name.cert);
  const keyFile = join(dir, typeof name === 'string' ? `${name}-key.pem` : name.key);
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}
