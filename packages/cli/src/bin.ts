#!/usr/bin/env node
import { relaunchWithHugePages } from '@treespec/node/huge-pages';
import { exitQuietlyOnClosedPipe } from './closed-pipe.js';
import { runProgram } from './program.js';

const relaunched = await relaunchWithHugePages();
if (relaunched !== null) {
  process.exitCode = relaunched;
} else {
  exitQuietlyOnClosedPipe(process.stdout, (code) => process.exit(code));
  process.exitCode = await runProgram(process.argv);
}
