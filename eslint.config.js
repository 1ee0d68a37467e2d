// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // .vue files are type-checked by vue-tsc (npm run typecheck), not linted.
  { ignores: ['**/node_modules/**', '**/dist/**', 'results/**', 'bench-results/**', 'soak-results/**', '.roundtable/**', 'coverage/**', 'test-results/**', '**/*.vue'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', Buffer: 'readonly', setInterval: 'readonly', setTimeout: 'readonly', console: 'readonly' } },
  },
  {
    files: ['packages/*/public/**/*.js'],
    languageOptions: { globals: { window: 'readonly', document: 'readonly', navigator: 'readonly', RTCPeerConnection: 'readonly', WebSocket: 'readonly', console: 'readonly', performance: 'readonly', setTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', location: 'readonly' } },
  },
);
