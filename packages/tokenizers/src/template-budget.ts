import { Environment, Interpreter, Template } from '@huggingface/jinja';

/** Limits on one chat-template render. */
export interface TemplateBudget {
  /** Most milliseconds a render may take. Default 1000. */
  readonly timeMs?: number;
  /** Most characters of any value the render builds, the output included. Default 4 MiB. */
  readonly maxChars?: number;
  /** Most elements `range()` may return. Default 100 000. */
  readonly maxRange?: number;
}

/** The budget a render gets unless the tokenizer is given another. */
export const DEFAULT_TEMPLATE_BUDGET: Required<TemplateBudget> = {
  timeMs: 1000,
  maxChars: 4 * 1024 * 1024,
  maxRange: 100_000,
};

/** A render stopped by its budget; the message says which limit, its value and the option to raise. */
export class TemplateBudgetExceeded extends Error {}

type Value = ReturnType<Interpreter['evaluate']>;

/**
 * Interprets a template, checking the clock every few dozen nodes or loop iterations and the size
 * of every string.
 */
class BudgetedInterpreter extends Interpreter {
  private steps = 0;

  constructor(
    env: Environment,
    private readonly deadline: number,
    private readonly budget: Required<TemplateBudget>,
  ) {
    super(env);
  }

  /** Counts one node or loop iteration; past the deadline, stops the render. */
  tick(): void {
    if (++this.steps % 64 === 0 && performance.now() > this.deadline) {
      throw new TemplateBudgetExceeded(
        `rendering took over ${this.budget.timeMs} ms (templateBudget.timeMs); a template that loops this long is broken or hostile`,
      );
    }
  }

  override evaluate(...args: Parameters<Interpreter['evaluate']>): Value {
    this.tick();
    const value = super.evaluate(...args);
    if (typeof value.value === 'string' && value.value.length > this.budget.maxChars) {
      throw new TemplateBudgetExceeded(
        `rendering built a string of ${value.value.length} characters, over templateBudget.maxChars (${this.budget.maxChars})`,
      );
    }
    return value;
  }
}

// A loop with an empty body evaluates no node per iteration, only its (private) block.
type BlockEvaluator = (this: BudgetedInterpreter, ...args: unknown[]) => Value;
const evaluateBlock = (Interpreter.prototype as unknown as { evaluateBlock: BlockEvaluator }).evaluateBlock;
(BudgetedInterpreter.prototype as unknown as { evaluateBlock: BlockEvaluator }).evaluateBlock = function (
  this: BudgetedInterpreter,
  ...args: unknown[]
): Value {
  this.tick();
  return evaluateBlock.apply(this, args);
};

/**
 * Renders a parsed template like `Template.render`, within `budget`: `range()` is capped, the
 * render is stopped past its time, and no string it builds may exceed the size limit.
 * @throws TemplateBudgetExceeded when a limit is hit; the library's errors otherwise.
 */
export function renderWithinBudget(
  template: Template,
  variables: Record<string, unknown>,
  budget: TemplateBudget = {},
): string {
  const limits = { ...DEFAULT_TEMPLATE_BUDGET, ...budget };
  const env = new Environment();
  // Python's spellings as well as Jinja's, as transformers' environment reads them.
  for (const [names, value] of [
    [['false', 'False'], false],
    [['true', 'True'], true],
    [['none', 'None'], null],
  ] as const) {
    for (const name of names) env.set(name, value);
  }
  env.set('raise_exception', (message: unknown) => {
    throw new Error(String(message));
  });
  env.set('strftime_now', (format: string) => new Template('{{ strftime_now(f) }}').render({ f: format }));
  env.set('range', (start: number, stop?: number, step = 1) =>
    boundedRange(start, stop, step, limits.maxRange),
  );
  for (const [key, value] of Object.entries(variables)) env.set(key, value);
  const interpreter = new BudgetedInterpreter(env, performance.now() + limits.timeMs, limits);
  return interpreter.run(template.parsed).value as string;
}

function boundedRange(start: number, stop: number | undefined, step: number, max: number): number[] {
  const [from, to] = stop === undefined ? [0, start] : [start, stop];
  if (step === 0) throw new Error('range() step must not be zero');
  const length = Math.max(0, Math.ceil((to - from) / step));
  if (length > max) {
    throw new TemplateBudgetExceeded(
      `range() of ${length} elements is over templateBudget.maxRange (${max})`,
    );
  }
  return Array.from({ length }, (_, i) => from + i * step);
}
