#!/usr/bin/env node
// The `p2p-chat-cli` command: runs cli/src/main.ts through tsx (a dependency), like
// `npm start` runs the server.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../src/main.ts');
run();
