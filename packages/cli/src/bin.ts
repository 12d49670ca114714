#!/usr/bin/env node
import { exitQuietlyOnClosedPipe } from './closed-pipe.js';
import { hugePageEnvironment, hugePageFacts, relaunch } from './huge-pages.js';
import { runProgram } from './program.js';

const hugePages = hugePageEnvironment(hugePageFacts());
if (hugePages) {
  process.exitCode = await relaunch(hugePages);
} else {
  exitQuietlyOnClosedPipe(process.stdout, (code) => process.exit(code));
  process.exitCode = await runProgram(process.argv);
}
