/**
 * The command line a bench script parses: its arguments without the `--` that pnpm passes on when
 * one is written before the options (`pnpm -s bench:steps -- --rounds 2`).
 */
export function scriptArgs(): string[] {
  return process.argv.slice(2).filter((arg, i) => i > 0 || arg !== '--');
}

/**
 * The options of a bench that generates from the development prompts, for `parseArgs`: which
 * drafter, at which temperature, over how many prompts, of how many new tokens, in how many rounds.
 */
export function generationOptions(defaults: { temperature: string }) {
  return {
    drafter: { type: 'string', default: 'eagle2' },
    temperature: { type: 'string', default: defaults.temperature },
    prompts: { type: 'string', default: '39' },
    'max-tokens': { type: 'string', default: '128' },
    rounds: { type: 'string', default: '2' },
  } as const;
}
