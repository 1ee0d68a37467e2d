// Entry of a media worker thread. The server is TypeScript run through tsx's loader
// (bin/roundtable.mjs), and vitest's transform does not reach worker threads, so the
// worker registers tsx itself before it loads its TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./workerMain.ts');
