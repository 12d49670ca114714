import { BUNDLE_CASES } from './cases/bundle-cases.js';
import { CLI_CASES } from './cases/cli-cases.js';
import { FUZZ_CASES } from './cases/fuzz-cases.js';
import { LIBRARY_CASES } from './cases/library-cases.js';
import { PROCESS_CASES } from './cases/process-cases.js';
import { describeOutcome } from './fault-case.js';

/** One line of the catalogue. */
export interface CatalogueRow {
  readonly id: string;
  readonly fault: string;
  readonly outcome: string;
}

const code = (text: string) => `\`${text.replaceAll('|', '\\|')}\``;

/** Every case of the suite, by section, as the tests run them. */
export function catalogue(): Array<{ title: string; test: string; rows: CatalogueRow[] }> {
  const cli = (c: { id: string; fault: string; expect: { code: number; err: RegExp; out?: RegExp } }) => ({
    id: c.id,
    fault: c.fault,
    outcome:
      `exit ${c.expect.code}, stderr matching ${code(c.expect.err.source)}` +
      (c.expect.out ? `, stdout matching ${code(c.expect.out.source)}` : ''),
  });
  return [
    {
      title: 'Bundles: hostile, corrupt and mismatched',
      test: 'test/bundles.test.ts',
      rows: BUNDLE_CASES.map((c) => ({ id: c.id, fault: c.fault, outcome: describeOutcome(c.outcome) })),
    },
    {
      title: 'Library: options, prompts, templates, aborts, queueing, disposal',
      test: 'test/library.test.ts',
      rows: LIBRARY_CASES.map((c) => ({ id: c.id, fault: c.fault, outcome: describeOutcome(c.outcome) })),
    },
    { title: 'CLI misuse and faulty checkpoints', test: 'test/cli.test.ts', rows: CLI_CASES.map(cli) },
    {
      title: 'Processes: closed pipes, provider failures',
      test: 'test/process.test.ts',
      rows: PROCESS_CASES.map(cli),
    },
    { title: 'Seeded fuzzing', test: 'test/fuzz.test.ts', rows: FUZZ_CASES.map((c) => ({ ...c })) },
  ];
}

/** The catalogue as docs/reliability.md holds it. */
export function renderCatalogue(): string {
  const sections = catalogue();
  const count = sections.reduce((n, s) => n + s.rows.length, 0);
  const lines = [
    '# Reliability catalogue',
    '',
    `${count} bad inputs and faults, each a test in \`packages/reliability\` (\`pnpm --filter @treespec/reliability test\`).`,
    'Every case asserts its outcome — a typed error (a `TreespecError` subclass whose message names the',
    'file, field or flag) or a clean result — and then that the same, already loaded generator still',
    'produces the reference greedy text. CLI cases also assert that no stack trace is printed. This file is',
    'generated from the test tables (`pnpm --filter @treespec/reliability catalogue`); a test fails when it',
    'is out of date. ✅ means the case passes.',
    '',
  ];
  for (const section of sections) {
    lines.push(
      `## ${section.title} (${section.rows.length}, \`${section.test}\`)`,
      '',
      '| | case | fault | outcome |',
      '| --- | --- | --- | --- |',
    );
    for (const row of section.rows)
      lines.push(`| ✅ | \`${row.id}\` | ${row.fault.replaceAll('|', '\\|')} | ${row.outcome} |`);
    lines.push('');
  }
  return lines.join('\n');
}
