export { registerConvert } from './commands/convert.js';
export { describeModel, registerInspect } from './commands/inspect.js';
export { COMMANDS, type CommandRegistrar, createProgram, type ProgramIO, runProgram } from './program.js';
