import { rename, rm, stat, writeFile } from 'node:fs/promises';
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

/** Suffix of a bundle's files while they are written; they take their names once complete. */
export const PARTIAL = '.partial';

/**
 * Creates `<id>.onnx` (graph) and `<id>.onnx.data` (weights) in `directory`, letting `build` add
 * the graph's content; weights are written to the data file while `build` runs. Both are written
 * under temporary names and renamed once complete, so a conversion that fails or is interrupted
 * leaves a bundle's existing files of that id as they were.
 */
export async function writeModelFile(
  directory: string,
  id: string,
  build: (g: GraphBuilder) => Promise<void>,
): Promise<WrittenModel> {
  const file = `${id}.onnx`;
  const dataFile = `${file}.data`;
  const [path, dataPath] = [join(directory, file), join(directory, dataFile)];
  const external = await ExternalDataWriter.create(dataPath + PARTIAL, undefined, dataFile);
  try {
    const g = new GraphBuilder(id, external);
    await build(g);
    await external.close();
    const bytes = encodeModel({
      irVersion: 8,
      opsetImport: [{ domain: '', version: OPSET }, ...g.operatorSets()],
      producerName: GENERATOR.split(' ')[0]!,
      producerVersion: GENERATOR.split(' ')[1]!,
      graph: g.build(),
    });
    await writeFile(path + PARTIAL, bytes);
    if (external.size === 0) {
      await rm(dataPath + PARTIAL);
      await rm(dataPath, { force: true });
      await rename(path + PARTIAL, path);
      return { file, externalData: [], bytes: bytes.length };
    }
    const dataBytes = (await stat(dataPath + PARTIAL)).size;
    await rename(dataPath + PARTIAL, dataPath);
    await rename(path + PARTIAL, path);
    return { file, externalData: [dataFile], bytes: bytes.length + dataBytes };
  } catch (error) {
    await external.close().catch(() => undefined);
    await Promise.all([rm(dataPath + PARTIAL, { force: true }), rm(path + PARTIAL, { force: true })]);
    throw error;
  }
}
