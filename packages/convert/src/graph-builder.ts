import type { ExternalDataWriter } from './external-data.js';
import { type Matrix, rowBlocks } from './matrix.js';
import {
  type AttributeProto,
  DATA_LOCATION_EXTERNAL,
  type GraphProto,
  type NodeProto,
  OnnxAttributeType,
  OnnxDataType,
  type TensorProto,
  type ValueInfoProto,
} from './onnx-proto.js';

/** An attribute value: numbers are INT when integral unless wrapped with {@link floatAttr}. */
export type AttributeValue = number | readonly number[] | string | { readonly float: number };

/** Marks a number attribute as FLOAT even when it is integral. */
export function floatAttr(value: number): { readonly float: number } {
  return { float: value };
}

/** A dimension: a fixed size or a symbolic name. */
export type Dim = number | string;

/** Initializers at least this large go to external data (when a writer is given). */
const DEFAULT_EXTERNAL_THRESHOLD = 1024;

/**
 * Builds one ONNX graph: inputs, outputs, nodes with generated unique names, small constants
 * kept inline and weights streamed to an external data file as they are added, so the graph in
 * memory holds names and shapes only.
 */
export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private readonly constants = new Map<string, string>();
  private readonly matrices = new Map<Matrix, string>();
  private readonly domains = new Map<string, number>();
  private counter = 0;

  constructor(
    readonly name: string,
    private readonly external: ExternalDataWriter | null,
    private readonly externalThreshold = DEFAULT_EXTERNAL_THRESHOLD,
  ) {}

  /** A fresh value name starting with `hint`. */
  unique(hint: string): string {
    let name = hint;
    while (this.used.has(name)) name = `${hint}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  /** Declares a graph input. */
  input(name: string, elemType: number, dims: readonly Dim[]): string {
    if (this.used.has(name)) throw new Error(`graph input name "${name}" is already used`);
    this.used.add(name);
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Declares `value` as the graph output `name` (renaming through Identity when they differ). */
  output(value: string, name: string, elemType: number, dims: readonly Dim[]): void {
    let source = value;
    if (source !== name) {
      if (this.used.has(name)) throw new Error(`graph output name "${name}" is already used`);
      this.used.add(name);
      this.nodes.push(makeNode('Identity', [value], [name], {}, this.unique('Identity')));
      source = name;
    }
    this.outputs.push(valueInfo(source, elemType, dims));
  }

  /** Adds a node with one output and returns the output's name. */
  op(
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, AttributeValue> = {},
    hint?: string,
  ): string {
    return this.opN(opType, inputs, 1, attrs, hint)[0]!;
  }

  /** Adds a node with `outputs` outputs and returns their names. */
  opN(
    opType: string,
    inputs: readonly string[],
    outputs: number,
    attrs: Record<string, AttributeValue> = {},
    hint?: string,
  ): string[] {
    const base = hint ?? opType;
    const names = Array.from({ length: outputs }, (_, i) =>
      this.unique(outputs === 1 ? base : `${base}_${i}`),
    );
    this.nodes.push(makeNode(opType, inputs, names, attrs, this.unique(`${opType}_node`)));
    return names;
  }

  /**
   * Adds a node of operator set `domain` (e.g. ONNX Runtime's `com.microsoft` contrib operators)
   * with one output; the model then imports that operator set at `version`.
   */
  opIn(
    domain: string,
    version: number,
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, AttributeValue> = {},
    hint?: string,
  ): string {
    return this.opInN(domain, version, opType, inputs, [this.unique(hint ?? opType)], attrs)[0]!;
  }

  /**
   * Like {@link GraphBuilder.opIn}, with outputs named exactly `names` (graph output names, or
   * names from {@link GraphBuilder.unique}); an empty input name leaves an optional input out.
   */
  opInN(
    domain: string,
    version: number,
    opType: string,
    inputs: readonly string[],
    names: readonly string[],
    attrs: Record<string, AttributeValue> = {},
  ): string[] {
    const known = this.domains.get(domain);
    if (known !== undefined && known !== version)
      throw new Error(`operator set "${domain}" is used at versions ${known} and ${version}`);
    this.domains.set(domain, version);
    for (const name of names) this.used.add(name);
    this.nodes.push({ ...makeNode(opType, inputs, names, attrs, this.unique(`${opType}_node`)), domain });
    return [...names];
  }

  /** Operator sets other than the default domain that the graph's nodes use. */
  operatorSets(): { domain: string; version: number }[] {
    return [...this.domains].map(([domain, version]) => ({ domain, version }));
  }

  /**
   * Adds a node whose outputs are named exactly `names`: graph output names, or names from
   * {@link GraphBuilder.unique}.
   */
  opNamed(
    opType: string,
    inputs: readonly string[],
    names: readonly string[],
    attrs: Record<string, AttributeValue> = {},
  ): string[] {
    for (const name of names) this.used.add(name);
    this.nodes.push(makeNode(opType, inputs, names, attrs, this.unique(`${opType}_node`)));
    return [...names];
  }

  /** An inline int64 constant (shared between identical uses). */
  int64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    return this.constant(key, () => {
      const data = new BigInt64Array(values.map((v) => BigInt(v)));
      return { dataType: OnnxDataType.INT64, dims, bytes: new Uint8Array(data.buffer) };
    });
  }

  /** An inline int32 constant (shared between identical uses). */
  int32(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i32:${dims.join('x')}:${values.join(',')}`;
    return this.constant(key, () => {
      const data = Int32Array.from(values);
      return { dataType: OnnxDataType.INT32, dims, bytes: new Uint8Array(data.buffer) };
    });
  }

  /** An inline float32 constant (shared between identical uses). */
  float32(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `f32:${dims.join('x')}:${values.join(',')}`;
    return this.constant(key, () => {
      const data = Float32Array.from(values);
      return { dataType: OnnxDataType.FLOAT, dims, bytes: new Uint8Array(data.buffer) };
    });
  }

  /** Adds a float32 initializer from memory. */
  async tensor(hint: string, dims: readonly number[], data: Float32Array): Promise<string> {
    return this.initializer(hint, OnnxDataType.FLOAT, dims, [bytesOf(data)], data.byteLength);
  }

  /**
   * Adds a matrix as a float32 initializer of shape [rows, cols], streamed block by block.
   * Adding the same Matrix object again returns the same initializer (tied embeddings).
   */
  async matrix(matrix: Matrix, hint: string = matrix.label): Promise<string> {
    const known = this.matrices.get(matrix);
    if (known) return known;
    const blocks = (async function* () {
      for await (const block of rowBlocks(matrix)) yield bytesOf(block);
    })();
    const name = await this.initializer(
      hint,
      OnnxDataType.FLOAT,
      [matrix.rows, matrix.cols],
      blocks,
      matrix.rows * matrix.cols * 4,
    );
    this.matrices.set(matrix, name);
    return name;
  }

  /** Adds an initializer of any type from byte chunks. */
  async initializer(
    hint: string,
    dataType: number,
    dims: readonly number[],
    chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
    byteLength: number,
  ): Promise<string> {
    const name = this.unique(hint);
    const tensor: TensorProto = { name, dims: [...dims], dataType };
    if (this.external && byteLength >= this.externalThreshold) {
      const where = await this.external.write(chunks);
      tensor.dataLocation = DATA_LOCATION_EXTERNAL;
      tensor.externalData = [
        { key: 'location', value: where.location },
        { key: 'offset', value: String(where.offset) },
        { key: 'length', value: String(where.length) },
      ];
    } else {
      const raw = new Uint8Array(byteLength);
      let at = 0;
      for await (const chunk of chunks) {
        raw.set(chunk, at);
        at += chunk.length;
      }
      tensor.rawData = raw;
    }
    this.initializers.push(tensor);
    return name;
  }

  /** The finished graph. */
  build(): GraphProto {
    return {
      name: this.name,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    };
  }

  private constant(
    key: string,
    make: () => { dataType: number; dims: readonly number[]; bytes: Uint8Array },
  ): string {
    const known = this.constants.get(key);
    if (known) return known;
    const { dataType, dims, bytes } = make();
    const name = this.unique('const');
    this.initializers.push({ name, dims: [...dims], dataType, rawData: bytes });
    this.constants.set(key, name);
    return name;
  }
}

function bytesOf(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function valueInfo(name: string, elemType: number, dims: readonly Dim[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function makeNode(
  opType: string,
  input: readonly string[],
  output: readonly string[],
  attrs: Record<string, AttributeValue>,
  name: string,
): NodeProto {
  const attribute = Object.entries(attrs).map(([key, value]) => attributeOf(key, value));
  return { name, opType, input: [...input], output: [...output], attribute };
}

function attributeOf(name: string, value: AttributeValue): AttributeProto {
  if (typeof value === 'string')
    return { name, type: OnnxAttributeType.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? { name, type: OnnxAttributeType.INT, i: value }
      : { name, type: OnnxAttributeType.FLOAT, f: value };
  }
  if ('float' in value) return { name, type: OnnxAttributeType.FLOAT, f: value.float };
  return { name, type: OnnxAttributeType.INTS, ints: [...value] };
}
