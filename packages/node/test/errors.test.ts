import {
  copyFileSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxCausalLm } from '@treespec/onnx';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  AbortError,
  BusyError,
  ContextOverflowError,
  createSession,
  DisposedError,
  loadTreespec,
  ModelFormatError,
  ModelLoadError,
  ModelMismatchError,
  OnnxRuntimeUnavailableError,
  OptionError,
  ProviderSupportError,
  ProviderUnavailableError,
  QueueFullError,
  TokenizerError,
  TreespecError,
  verifyBundle,
} from '../src/index.js';
import { cudaHint } from '../src/session.js';
import { TINY } from './tiny.js';

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temp folder, removed after this file's tests. */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** A copy of the tiny bundle (model files hard-linked) whose manifest `edit` may change. */
function bundleWith(
  edit: (manifest: {
    models: Array<{ role: string; dims: Record<string, unknown>; [field: string]: unknown }>;
  }) => void,
): string {
  const dir = tempDir('treespec-bundle-');
  for (const name of readdirSync(TINY)) {
    if (name.endsWith('.onnx') || name.endsWith('.data')) linkSync(join(TINY, name), join(dir, name));
    else if (name !== 'treespec.json') copyFileSync(join(TINY, name), join(dir, name));
  }
  const manifest = JSON.parse(readFileSync(join(TINY, 'treespec.json'), 'utf8'));
  edit(manifest);
  writeFileSync(join(dir, 'treespec.json'), JSON.stringify(manifest));
  return dir;
}

describe('loading errors', () => {
  it('names the missing manifest and says how to make one', async () => {
    const dir = tempDir('treespec-empty-');
    await expect(loadTreespec(dir)).rejects.toThrow(ModelLoadError);
    await expect(loadTreespec(dir)).rejects.toThrow(
      /treespec\.json: no treespec manifest here.*treespec convert/,
    );
  });

  it('says why a manifest that is there cannot be read, rather than that there is none', async () => {
    const dir = tempDir('treespec-manifest-folder-');
    mkdirSync(join(dir, 'treespec.json'));
    await expect(loadTreespec(dir)).rejects.toThrow(ModelLoadError);
    await expect(loadTreespec(dir)).rejects.toThrow(/treespec\.json: cannot read the manifest: EISDIR/);
  });

  it('rejects a head that does not fit the target, naming both files and both values', async () => {
    const dir = bundleWith((m) => {
      const head = m.models.find((x) => x.role === 'eagle-head')!;
      head.dims.hidden = 512;
    });
    const load = loadTreespec(dir);
    await expect(load).rejects.toThrow(ModelMismatchError);
    await expect(loadTreespec(dir)).rejects.toThrow(
      'eagle-head eagle-head-context.onnx does not fit target target.onnx: hidden size is 512 in eagle-head-context.onnx but 384 in target.onnx',
    );
  });

  it('rejects a manifest field of the wrong type with the file and the field', async () => {
    const dir = bundleWith((m) => {
      m.models[0]!.dims.vocab = 'many';
    });
    await expect(loadTreespec(dir)).rejects.toThrow(/treespec\.json.*models\[0\]\.dims\.vocab/);
  });

  it('names a weights file cut short, with its size and the size its model reads', async () => {
    const dir = tempDir('treespec-cut-');
    const data = readFileSync(join(TINY, 'target.onnx.data'));
    copyFileSync(join(TINY, 'target.onnx'), join(dir, 'target.onnx'));
    writeFileSync(join(dir, 'target.onnx.data'), data.subarray(0, data.length >> 1));
    const error = await createSession(join(dir, 'target.onnx')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as ModelLoadError).file).toBe(join(dir, 'target.onnx.data'));
    expect((error as Error).message).toMatch(
      new RegExp(
        `holds ${data.length >> 1} bytes, but target\\.onnx reads its weights up to byte \\d+: the file was cut short.*treespec inspect --verify`,
      ),
    );
    expect((error as Error).cause).toBeDefined();
  });

  it('verifies a bundle as a load checks it, and each model file against its recorded sha256', async () => {
    const listing = readFileSync(join(TINY, 'treespec.sha256'), 'utf8');
    expect(await verifyBundle(TINY)).toBe(listing.trim().split('\n').length);

    const tokenizer = bundleWith(() => {});
    writeFileSync(join(tokenizer, 'tokenizer.json'), '{}');
    await expect(verifyBundle(tokenizer)).rejects.toThrow(/tokenizer\.json: the tokenizer's sha256 is/);

    const unlisted = bundleWith(() => {});
    const kept = listing.split('\n').filter((line) => !line.endsWith('  target.onnx.data'));
    writeFileSync(join(unlisted, 'treespec.sha256'), kept.join('\n'));
    await expect(verifyBundle(unlisted)).rejects.toThrow(
      'treespec.sha256: lists no sha256 of target.onnx.data, which treespec.json names',
    );

    const changed = bundleWith(() => {});
    const head = join(changed, 'eagle-head.onnx');
    const bytes = readFileSync(head);
    rmSync(head);
    bytes[bytes.length - 1]! ^= 1;
    writeFileSync(head, bytes);
    await expect(verifyBundle(changed)).rejects.toThrow(
      /eagle-head\.onnx: sha256 is [0-9a-f]{64}, but treespec\.sha256 recorded/,
    );
  });

  it('says a missing model file is missing', async () => {
    await expect(createSession(join(TINY, 'nope.onnx'))).rejects.toThrow(
      /nope\.onnx: the model file does not exist/,
    );
  });
});

describe('load options of the wrong shape', () => {
  it('are OptionErrors naming the option as the caller wrote it, before any model is opened', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ drafterThreads: -1 }, 'drafterThreads', /an integer in \[1, 1024\]/],
      [{ intraOpNumThreads: 1.5 }, 'intraOpNumThreads', /an integer in \[1, 1024\]/],
      [{ graphOptimizationLevel: 'max' }, 'graphOptimizationLevel', /"disabled", "basic", "extended", "all"/],
      [{ onnxRuntime: 'foo' }, 'onnxRuntime', /"bundled", "onnxruntime-node"/],
      [{ spinning: 'no' }, 'spinning', /true or false/],
      [{ hybridBase: 'x' }, 'hybridBase', /"eagle2"/],
      [{ hybridPolicy: 'x' }, 'hybridPolicy', /"match", "expected", "throughput"/],
      [{ adaptive: 'x' }, 'adaptive', /"none", "depth", "entropy", "both"/],
      [{ corpus: 'some text' }, 'corpus', /an array of texts or token id arrays/],
      [{ drafters: 'lookup' }, 'drafters', /an array of drafter names/],
      [{ drafters: ['bogus'] }, 'drafters', /one of /],
      [{ models: 'draft-int8' }, 'models', /an array of manifest model ids/],
      [{ draftSampling: 'yes' }, 'draftSampling', /true or false/],
      [{ tuningCache: 5 }, 'tuningCache', /a file path, or false/],
    ];
    for (const [options, option, expected] of cases) {
      const error = await loadTreespec(TINY, { warmUp: false, ...options }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, option).toBeInstanceOf(OptionError);
      expect((error as OptionError).option, option).toBe(option);
      expect((error as Error).message, option).toMatch(expected);
    }
  });

  it('sends a corrupt tuning cache’s warning to onWarning, not the console', async () => {
    const file = join(tempDir('treespec-cache-'), 'cache.json');
    writeFileSync(file, '{garbage');
    const warnings: string[] = [];
    const generator = await loadTreespec(TINY, {
      warmUp: false,
      drafter: 'lookup',
      tuningCache: file,
      onWarning: (w) => warnings.push(w),
    });
    await generator.dispose();
    expect(warnings).toEqual([
      expect.stringMatching(/ignoring the tuning cache .*cache\.json: it is not JSON/),
    ]);
  });

  it('disposes what it built, caches and all, when the warm-up fails', async () => {
    const verify = vi
      .spyOn(OnnxCausalLm.prototype, 'verify')
      .mockRejectedValue(new ModelLoadError('target.onnx', 'a provider that failed its first run'));
    const dispose = vi.spyOn(OnnxCausalLm.prototype, 'dispose');
    try {
      await expect(loadTreespec(TINY, { drafter: 'lookup' })).rejects.toBeInstanceOf(ModelLoadError);
      expect(dispose).toHaveBeenCalledTimes(1);
    } finally {
      verify.mockRestore();
      dispose.mockRestore();
    }
  });

  it('exports every error a load or a generation throws, as the README lists them', () => {
    for (const error of [
      TreespecError,
      OptionError,
      ContextOverflowError,
      ModelFormatError,
      ModelMismatchError,
      OnnxRuntimeUnavailableError,
      TokenizerError,
      QueueFullError,
      DisposedError,
      BusyError,
      AbortError,
    ]) {
      expect(error.prototype, error.name).toBeInstanceOf(Error);
    }
    expect(OptionError.prototype).toBeInstanceOf(TreespecError);
  });
});

describe('execution providers', () => {
  it('explains how to install the CUDA provider when its binaries are absent', async () => {
    const result = await createSession(join(TINY, 'eagle-head.onnx'), { executionProvider: 'cuda' }).then(
      (s) => s.release().then(() => 'available'),
      (e: unknown) => e,
    );
    if (result === 'available') return; // a machine with ORT's CUDA binaries installed
    expect(result).toBeInstanceOf(ProviderUnavailableError);
    const message = String((result as Error).message);
    expect(message).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(message.split('ONNXRUNTIME_NODE_INSTALL=cuda12')).toHaveLength(2);
  });

  it('says how to install onnxruntime-node with CUDA once, whether or not the reason already does', () => {
    const install =
      'install it beside treespec: `ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node@1.30.0`';
    for (const reason of [
      'onnxruntime-node is not installed; ' + install,
      'this process already runs ONNX Runtime',
    ]) {
      const text = `${reason}; ${cudaHint(reason)}`;
      expect(text.split('ONNXRUNTIME_NODE_INSTALL=cuda12'), reason).toHaveLength(2);
    }
  });

  it('reports a missing WebGPU adapter, or runs on one, and can fall back to the CPU', async () => {
    const result = await createSession(join(TINY, 'eagle-head.onnx'), { executionProvider: 'webgpu' }).then(
      (s) => s.release().then(() => 'available'),
      (e: unknown) => e,
    );
    if (result !== 'available') {
      expect(result).toBeInstanceOf(ProviderUnavailableError);
      expect(String((result as Error).message)).toMatch(/Vulkan/);
    }
    const reasons: string[] = [];
    const session = await createSession(join(TINY, 'eagle-head.onnx'), {
      executionProvider: 'cuda',
      fallbackToCpu: true,
      onFallback: (e) => reasons.push(e.provider),
    });
    expect(session.inputNames).toContain('feature');
    await session.release();
  });
});

describe('models a provider cannot run', () => {
  it('refuses float16 activations on the CPU at load, naming the provider and the fallback', async () => {
    const dir = bundleWith((m) => {
      m.models.find((x) => x.role === 'target')!.dtype = 'float16';
    });
    const load = loadTreespec(dir);
    await expect(load).rejects.toThrow(ProviderSupportError);
    await expect(load).rejects.toMatchObject({
      code: 'PROVIDER_UNSUPPORTED',
      provider: 'cpu',
      model: 'target',
    });
    await expect(load).rejects.toThrow(
      /model "target" needs float16 activations, which execution provider "cpu" cannot run; convert it with float32 activations.*or run it on "webgpu" or "cuda"/,
    );
  });
});
