import { CheckpointError } from './errors.js';

/** One tensor of a PyTorch state dict, as its pickle describes it: a view of a storage. */
export interface TorchTensorRecord {
  /** The storage's record name in the archive (`data/<key>`). */
  readonly storageKey: string;
  /** The safetensors name of the storage's dtype (`BF16`, `F32`, `I64`, …), or `torch.<Name>Storage` for others. */
  readonly dtype: string;
  /** Elements of the storage before the tensor's first element. */
  readonly storageOffset: number;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
}

/** The dtype of each legacy storage class that torch writes into a checkpoint's persistent ids. */
const STORAGE_DTYPES: Readonly<Record<string, string>> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
  Float8_e4m3fnStorage: 'F8_E4M3',
  Float8_e5m2Storage: 'F8_E5M2',
};

/** A global the reader knows: what calling it (REDUCE) builds. */
type KnownGlobal = 'ordered-dict' | 'rebuild-tensor' | 'rebuild-parameter' | { storage: string };

/** A storage named by a persistent id: its dtype and record key. */
interface StorageRef {
  readonly kind: 'storage';
  readonly dtype: string;
  readonly key: string;
}

const MARK = Symbol('mark');

/**
 * Reads the `data.pkl` of a PyTorch checkpoint (`torch.save` of a state dict, pickle protocols
 * 2–5) into its tensors by name, **without running anything**: the pickle's globals are resolved
 * against a short list of what a state dict holds (`collections.OrderedDict`, torch's tensor and
 * parameter rebuilders and its storage classes), and any other global is refused. Pickled state
 * that only sets attributes (a state dict's `_metadata`) is ignored. Non-tensor values of the dict
 * are skipped.
 * @throws CheckpointError `bad-header` for a malformed pickle, a global outside the list, or a
 *   top-level value that is not a dict.
 */
export function readTorchStateDict(bytes: Uint8Array, file: string): Map<string, TorchTensorRecord> {
  const bad = (what: string) => new CheckpointError('bad-header', file, `data.pkl: ${what}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let at = 0;

  const need = (n: number) => {
    if (at + n > bytes.length) throw bad(`ends inside an opcode at byte ${at} (truncated?)`);
  };
  /** Reads a fixed-size little-endian field of `n` bytes and moves past it. */
  const fixed = <T>(n: number, read: (offset: number) => T): T => {
    need(n);
    const v = read(at);
    at += n;
    return v;
  };
  const u8 = () => fixed(1, (o) => view.getUint8(o));
  const u16 = () => fixed(2, (o) => view.getUint16(o, true));
  const i32 = () => fixed(4, (o) => view.getInt32(o, true));
  const u32 = () => fixed(4, (o) => view.getUint32(o, true));
  const u64 = () => {
    const v = fixed(8, (o) => view.getBigUint64(o, true));
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`a length of ${v} bytes at byte ${at - 8}`);
    return Number(v);
  };
  const take = (n: number) => {
    need(n);
    const slice = bytes.subarray(at, at + n);
    at += n;
    return slice;
  };
  const utf8 = (raw: Uint8Array) => {
    try {
      return text.decode(raw);
    } catch {
      throw bad(`a string at byte ${at - raw.length} is not valid UTF-8`);
    }
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) throw bad(`a text argument at byte ${at} has no end of line`);
    const value = latin1.decode(bytes.subarray(at, end));
    at = end + 1;
    return value;
  };
  const pop = () => {
    if (stack.length === 0) throw bad(`the stack is empty at byte ${at}`);
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) throw bad(`the stack is empty at byte ${at}`);
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const mark = stack.lastIndexOf(MARK);
    if (mark < 0) throw bad(`no mark on the stack at byte ${at}`);
    const items = stack.splice(mark);
    items.shift();
    return items;
  };
  const little = (raw: Uint8Array) => {
    let v = 0n;
    for (let i = raw.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(raw[i]!);
    if (raw.length > 0 && raw[raw.length - 1]! & 0x80) v -= 1n << BigInt(raw.length * 8);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) return v;
    return Number(v);
  };
  const setItem = (dict: unknown, key: unknown, value: unknown) => {
    if (!(dict instanceof Map)) throw bad(`SETITEM on something that is not a dict at byte ${at}`);
    dict.set(key, value);
  };
  const global = (module: string, name: string): KnownGlobal => {
    if (module === 'collections' && name === 'OrderedDict') return 'ordered-dict';
    if (module === 'torch._utils' && name === '_rebuild_tensor_v2') return 'rebuild-tensor';
    if (module === 'torch._utils' && name === '_rebuild_parameter') return 'rebuild-parameter';
    if (module === 'torch' && name.endsWith('Storage'))
      return { storage: STORAGE_DTYPES[name] ?? `torch.${name}` };
    throw bad(
      `refuses the pickled global ${module}.${name}: a checkpoint is read as a state dict of tensors, and nothing in it is run`,
    );
  };
  const reduce = (callable: unknown, args: unknown): unknown => {
    if (!Array.isArray(args)) throw bad(`REDUCE without an argument tuple at byte ${at}`);
    if (callable === 'ordered-dict') return new Map();
    if (callable === 'rebuild-parameter') return args[0];
    if (callable === 'rebuild-tensor') {
      const [storage, offset, shape, stride] = args as [unknown, unknown, unknown, unknown];
      const ref = storage as StorageRef;
      const ints = (v: unknown) => Array.isArray(v) && v.every((d) => Number.isSafeInteger(d) && d >= 0);
      if (ref?.kind !== 'storage' || !Number.isSafeInteger(offset) || !ints(shape) || !ints(stride)) {
        throw bad(`a tensor at byte ${at} is not (storage, offset, size, stride, …)`);
      }
      return {
        storageKey: ref.key,
        dtype: ref.dtype,
        storageOffset: offset as number,
        shape: shape as number[],
        stride: stride as number[],
      } satisfies TorchTensorRecord;
    }
    throw bad(`REDUCE of something that is not a known global at byte ${at}`);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: {
        // STOP
        const result = pop();
        if (!(result instanceof Map)) throw bad('the pickled object is not a dict of tensors (a state dict)');
        const tensors = new Map<string, TorchTensorRecord>();
        for (const [key, value] of result) {
          if (typeof key === 'string' && isTensorRecord(value)) tensors.set(key, value);
        }
        return tensors;
      }
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x8a: // LONG1
        stack.push(little(take(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(little(take(u32())));
        break;
      case 0x49: {
        // INT (text)
        const value = line();
        stack.push(value === '00' ? false : value === '01' ? true : Number.parseInt(value, 10));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(Number.parseInt(line(), 10));
        break;
      case 0x47: // BINFLOAT (big-endian)
        stack.push(fixed(8, (o) => view.getFloat64(o, false)));
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(take(u64())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(take(u8())));
        break;
      case 0x54: // BINSTRING
        stack.push(latin1.decode(take(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()));
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()));
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const index = op === 0x68 ? u8() : u32();
        if (!memo.has(index)) throw bad(`memo entry ${index} is read before it is written (byte ${at})`);
        stack.push(memo.get(index));
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string')
          throw bad(`STACK_GLOBAL without names at byte ${at}`);
        stack.push(global(module, name));
        break;
      }
      case 0x51: {
        // BINPERSID: ('storage', storage type, key, location, numel)
        const pid = pop();
        const [tag, type, key] = Array.isArray(pid) ? pid : [];
        const storage = (type as { storage?: string } | undefined)?.storage;
        if (
          tag !== 'storage' ||
          storage === undefined ||
          (typeof key !== 'string' && typeof key !== 'number')
        ) {
          throw bad(`a persistent id at byte ${at} is not a torch storage`);
        }
        stack.push({ kind: 'storage', dtype: storage, key: String(key) } satisfies StorageRef);
        break;
      }
      case 0x52: // REDUCE
      case 0x81: {
        // NEWOBJ
        const args = pop();
        stack.push(reduce(pop(), args));
        break;
      }
      case 0x62: // BUILD: attribute state (a state dict's `_metadata`), not needed
        pop();
        top();
        break;
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItem(top(), key, value);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        if (items.length % 2 !== 0) throw bad(`SETITEMS with an odd number of items at byte ${at}`);
        const dict = top();
        for (let i = 0; i < items.length; i += 2) setItem(dict, items[i], items[i + 1]);
        break;
      }
      case 0x61: {
        // APPEND
        const value = pop();
        const list = top();
        if (!Array.isArray(list)) throw bad(`APPEND to something that is not a list at byte ${at}`);
        list.push(value);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) throw bad(`APPENDS to something that is not a list at byte ${at}`);
        list.push(...items);
        break;
      }
      default:
        throw bad(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at - 1}`);
    }
  }
}

function isTensorRecord(value: unknown): value is TorchTensorRecord {
  return typeof value === 'object' && value !== null && 'storageKey' in value && 'stride' in value;
}
