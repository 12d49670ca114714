import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { catalogue, renderCatalogue } from '../src/catalogue.js';

describe('the reliability catalogue', () => {
  it('lists at least 100 cases with unique ids', () => {
    const ids = catalogue().flatMap((s) => s.rows.map((r) => r.id));
    expect(ids.length).toBeGreaterThanOrEqual(100);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('is what docs/reliability.md says, line for line', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/reliability.md', import.meta.url)), 'utf8');
    expect(doc).toBe(renderCatalogue());
  });
});
