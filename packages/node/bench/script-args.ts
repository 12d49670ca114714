/**
 * The command line a bench script parses: its arguments without the `--` that pnpm passes on when
 * one is written before the options (`pnpm -s bench:steps -- --rounds 2`).
 */
export function scriptArgs(): string[] {
  return process.argv.slice(2).filter((arg, i) => i > 0 || arg !== '--');
}
