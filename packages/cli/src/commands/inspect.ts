import { resolve } from 'node:path';
import { readBundleManifest, verifyBundle } from '@treespec/node';
import type { ManifestModel } from '@treespec/onnx';
import type { Command } from 'commander';

/**
 * One line per model: id, role, file, dimensions, formats, attention and KV layout, RoPE, tokenizer,
 * and EAGLE-3/FR-Spec fields. The id and role are padded to `widths` (the longest of a bundle's, so
 * its lines align).
 */
export function describeModel(
  m: ManifestModel,
  widths: { id: number; role: number } = { id: 12, role: 10 },
): string {
  const d = m.dims;
  const base = m.base ? ` base=${m.base.id}` : '';
  const captured = m.capturedLayers ? ` captured layers ${m.capturedLayers.join(',')}` : '';
  const sums = m.attentionPrecision === 'float64' ? ' (attention sums float64)' : '';
  const attention = (m.attention ?? 'plain') === 'plain' ? '' : `${m.attention} attention, `;
  const context = m.draftVocab?.contextTokens ? ` + up to ${m.draftVocab.contextTokens} context tokens` : '';
  const draftVocab = m.draftVocab
    ? ` draft vocab ${m.draftVocab.size} (${m.draftVocab.source})${context}`
    : '';
  return (
    `${m.id.padEnd(widths.id)} ${m.role.padEnd(widths.role)} ${m.file}  vocab ${d.vocab}, hidden ${d.hidden}, ${d.layers} layers, ` +
    `heads ${d.heads}/${d.kvHeads} x ${d.headDim}, ctx ${d.maxContext}, ${m.dtype}/${m.weightFormat}${sums}, ` +
    `${attention}kv ${m.kvCache.layout}, rope ${m.rope.type} ${m.rope.theta}, tokenizer ${m.tokenizer.sha256.slice(0, 12)}${base}${captured}${draftVocab}`
  );
}

/** `treespec inspect <dir> [--verify]`: prints a summary of the directory's treespec.json, and checks the weights' hashes. */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('print a summary of the models in a treespec bundle (a folder holding treespec.json)')
    .argument('<dir>', 'directory holding treespec.json')
    .option(
      '--verify',
      'also check the bundle as a load does, and hash every model file against the checksums recorded at conversion',
    )
    .action(async (dir: string, flags: { verify?: boolean }, command: Command) => {
      const { file: path, manifest } = await readBundleManifest(resolve(dir));
      const write = command.parent!.configureOutput().writeOut!;
      write(`${path} (format ${manifest.format} v${manifest.version}, ${manifest.generator})\n`);
      const widths = {
        id: Math.max(12, ...manifest.models.map((m) => m.id.length)),
        role: Math.max(10, ...manifest.models.map((m) => m.role.length)),
      };
      for (const m of manifest.models) write(`${describeModel(m, widths)}\n`);
      if (flags.verify) write(`verified the sha256 of ${await verifyBundle(resolve(dir))} files\n`);
    });
}
