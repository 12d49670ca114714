#!/usr/bin/env node
import { exitQuietlyOnClosedPipe } from './closed-pipe.js';
import { runProgram } from './program.js';

exitQuietlyOnClosedPipe(process.stdout, (code) => process.exit(code));
process.exitCode = await runProgram(process.argv);
