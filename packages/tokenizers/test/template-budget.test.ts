import { describe, expect, it } from 'vitest';
import { ChatTemplate, ChatTemplateError } from '../src/index.js';

const hi = [{ role: 'user', content: 'hi' }];

describe('chat template render budget', () => {
  it('renders ordinary templates as before, range() and strftime_now() included', () => {
    const t = new ChatTemplate(
      '{% for i in range(3) %}{{ i }}{% endfor %} {{ messages[0].content }} {{ strftime_now("%Y") }}',
    );
    expect(t.render(hi)).toBe(`012 hi ${new Date().getFullYear()}`);
  });

  it('refuses range() longer than maxRange, naming the option', () => {
    const t = new ChatTemplate('{% for i in range(100000000) %}x{% endfor %}');
    expect(() => t.render(hi)).toThrow(ChatTemplateError);
    expect(() => t.render(hi)).toThrow(
      'chat template "default": stopped: range() of 100000000 elements is over templateBudget.maxRange (100000)',
    );
  });

  it('stops a render past its time, even in loops with empty bodies', () => {
    const t = new ChatTemplate(
      '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}',
      { budget: { timeMs: 50 } },
    );
    // The work done before the stop, in this process's CPU time: a shared machine may keep the
    // render off its core for longer than the budget, but the render itself must stop soon after.
    const start = process.cpuUsage();
    expect(() => t.render(hi)).toThrow(/stopped: rendering took over 50 ms \(templateBudget\.timeMs\)/);
    const { user, system } = process.cpuUsage(start);
    expect((user + system) / 1000).toBeLessThan(1000);
  });

  it('stops a render whose strings grow past maxChars', () => {
    const t = new ChatTemplate(
      '{% set ns = namespace(s="x") %}{% for i in range(30) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}',
      { budget: { maxChars: 1000 } },
    );
    expect(() => t.render(hi)).toThrow(
      /stopped: rendering built a string of 1024 characters, over templateBudget\.maxChars \(1000\)/,
    );
  });
});
