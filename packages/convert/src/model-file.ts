import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ExternalDataWriter } from './external-data.js';
import { GraphBuilder } from './graph-builder.js';
import { encodeModel } from './onnx-proto.js';
import { PARTIAL, StagedFiles } from './staged-files.js';
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
 * Writes `<id>.onnx` (graph) and `<id>.onnx.data` (weights) into `directory` at once: the
 * complete files of {@link stageModelFile}, committed.
 */
export async function writeModelFile(
  directory: string,
  id: string,
  build: (g: GraphBuilder) => Promise<void>,
): Promise<WrittenModel> {
  const staged = new StagedFiles();
  const written = await stageModelFile(directory, id, build, staged);
  await staged.commit();
  return written;
}

/**
 * Writes `<id>.onnx` (graph) and `<id>.onnx.data` (weights) in `directory` under temporary
 * names, staged in `staged` to take their own names at its commit, letting `build` add the
 * graph's content; weights are written to the data file while `build` runs. A model without
 * external data stages the removal of an older one's data file. Where it fails (or `signal`
 * aborts it, with core's `AbortError`), it leaves no temporary file behind.
 */
export async function stageModelFile(
  directory: string,
  id: string,
  build: (g: GraphBuilder) => Promise<void>,
  staged: StagedFiles,
  signal?: AbortSignal,
): Promise<WrittenModel> {
  const file = `${id}.onnx`;
  const dataFile = `${file}.data`;
  const [path, dataPath] = [join(directory, file), join(directory, dataFile)];
  const external = await ExternalDataWriter.create(dataPath + PARTIAL, undefined, dataFile, signal);
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
    if (external.size === 0) {
      await rm(dataPath + PARTIAL);
      staged.remove(dataPath);
      await staged.write(path, bytes);
      return { file, externalData: [], bytes: bytes.length };
    }
    const dataBytes = (await stat(dataPath + PARTIAL)).size;
    staged.add(dataPath + PARTIAL, dataPath);
    await staged.write(path, bytes);
    return { file, externalData: [dataFile], bytes: bytes.length + dataBytes };
  } catch (error) {
    await external.close().catch(() => undefined);
    await Promise.all([rm(dataPath + PARTIAL, { force: true }), rm(path + PARTIAL, { force: true })]);
    throw error;
  }
}
