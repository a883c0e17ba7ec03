#!/usr/bin/env node
// Entry point; the TypeScript is compiled to dist/ by `npm install` (prepare) or `npm run build:ts`.
import { main } from '../dist/daemon/cli.js';

await main(process.argv);
