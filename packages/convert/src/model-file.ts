import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExternalDataWriter } from './external-data.js';
import { GraphBuilder } from './graph-builder.js';
import { encodeModel } from './onnx-proto.js';
import { GENERATOR } from './version.js';

/** ONNX opset of the default domain that treespec graphs use. */
export const OPSET = 17;

/** Files written for one model. */
export interface WrittenModel {
  /** The .onnx file name, relative to the output directory. */
  readonly file: string;
  /** External data file names (empty when every tensor was small enough to stay inline). */
  readonly externalData: readonly string[];
  /** Total bytes of the .onnx file and its external data. */
  readonly bytes: number;
}

/**
 * Creates `<id>.onnx` (graph) and `<id>.onnx.data` (weights) in `directory`, letting `build` add
 * the graph's content; weights are written to the data file while `build` runs.
 */
export async function writeModelFile(
  directory: string,
  id: string,
  build: (g: GraphBuilder) => Promise<void>,
): Promise<WrittenModel> {
  const file = `${id}.onnx`;
  const dataFile = `${file}.data`;
  const external = await ExternalDataWriter.create(join(directory, dataFile));
  const g = new GraphBuilder(id, external);
  try {
    await build(g);
  } catch (error) {
    await external.close();
    await rm(join(directory, dataFile), { force: true });
    throw error;
  }
  await external.close();
  const bytes = encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: OPSET }, ...g.operatorSets()],
    producerName: GENERATOR.split(' ')[0]!,
    producerVersion: GENERATOR.split(' ')[1]!,
    graph: g.build(),
  });
  await writeFile(join(directory, file), bytes);
  if (external.size === 0) {
    await rm(join(directory, dataFile));
    return { file, externalData: [], bytes: bytes.length };
  }
  const dataBytes = (await stat(join(directory, dataFile))).size;
  return { file, externalData: [dataFile], bytes: bytes.length + dataBytes };
}
