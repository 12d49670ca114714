import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderCatalogue } from './catalogue.js';

const target = fileURLToPath(new URL('../../../docs/reliability.md', import.meta.url));
writeFileSync(target, renderCatalogue());
process.stdout.write(`wrote ${target}\n`);
