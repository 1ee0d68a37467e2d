import vue from '@vitejs/plugin-vue';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The bundle goes to dist/, which the server serves at http://HOST:8080/ (see docs/web.md).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [vue()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No source maps: the served bundle should not hand out the app's sources (the server refuses *.map too).
    sourcemap: false,
    // The app is small; one chunk is simplest to serve and cache-bust.
    chunkSizeWarningLimit: 1024,
    // The build runs inside `npm start` and the tests on busy machines: no timing reports.
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
  server: {
    // `vite dev` against a running `npm start`: signaling and the loopback WebSocket go there.
    proxy: { '/ws': { target: 'ws://localhost:8080', ws: true } },
  },
});
