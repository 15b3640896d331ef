#!/usr/bin/env node
// Entry point: definitions are TypeScript, so the CLI runs through tsx's loader
// (no separate compile step for maintainers who add templates).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
