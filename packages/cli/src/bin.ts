#!/usr/bin/env node
import { relaunchWithHugePages } from '@treespec/node/huge-pages';
import { dropWritesOnClosedPipe, stdoutClosed } from './closed-pipe.js';
import { runProgram } from './program.js';

const relaunched = await relaunchWithHugePages();
if (relaunched !== null) {
  process.exitCode = relaunched;
} else {
  dropWritesOnClosedPipe(process.stdout, () => stdoutClosed.abort());
  dropWritesOnClosedPipe(process.stderr);
  process.exitCode = await runProgram(process.argv);
}
