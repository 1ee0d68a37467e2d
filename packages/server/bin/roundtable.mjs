#!/usr/bin/env node
// The `roundtable` command. The server is TypeScript run through tsx's loader, as `npm start` always has.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
await main(process.argv.slice(2));
