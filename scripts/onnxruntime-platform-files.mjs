// `build` and `prepack` of every @treespec/onnxruntime-<platform>-<arch> package (run in the
// package's folder): copies that platform's files of ONNX Runtime's Node binding from the
// onnxruntime-node devDependency (its bin/napi-v6/<os>/<cpu>/) into bin/, and writes ONNX
// Runtime's MIT LICENSE beside them. The binaries are never committed (bin/ is ignored by git);
// files already in place with the same size are kept, so a rebuild costs nothing.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const ONNXRUNTIME_LICENSE = `MIT License

Copyright (c) 2018 - present Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.

---

The files in bin/ are those of onnxruntime-node@VERSION's bin/napi-v6/PLATFORM/ (ONNX Runtime,
https://github.com/microsoft/onnxruntime), unchanged. ONNX Runtime's third-party notices:
https://github.com/microsoft/onnxruntime/blob/vVERSION/ThirdPartyNotices.txt
`;

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const [os] = pkg.os ?? [];
const [cpu] = pkg.cpu ?? [];
if (pkg.os?.length !== 1 || pkg.cpu?.length !== 1) {
  throw new Error(
    `${pkg.name}: expected one "os" and one "cpu" in package.json, found ${JSON.stringify([pkg.os, pkg.cpu])}`,
  );
}
const ortPackageJson = createRequire(resolve('package.json')).resolve('onnxruntime-node/package.json');
const { version } = JSON.parse(readFileSync(ortPackageJson, 'utf8'));
const wanted = pkg.devDependencies?.['onnxruntime-node'];
if (version !== wanted)
  throw new Error(`${pkg.name}: onnxruntime-node ${version} is installed, package.json asks for ${wanted}`);
const source = join(ortPackageJson, '..', 'bin', 'napi-v6', os, cpu);
if (!existsSync(join(source, 'onnxruntime_binding.node'))) {
  throw new Error(`${pkg.name}: onnxruntime-node ${version} has no ${source}/onnxruntime_binding.node`);
}

const names = readdirSync(source);
mkdirSync('bin', { recursive: true });
for (const stale of readdirSync('bin'))
  if (!names.includes(stale)) rmSync(join('bin', stale), { recursive: true });
for (const name of names) {
  const from = join(source, name);
  const to = join('bin', name);
  if (!existsSync(to) || statSync(to).size !== statSync(from).size) copyFileSync(from, to);
}
writeFileSync(
  'LICENSE',
  ONNXRUNTIME_LICENSE.replaceAll('VERSION', version).replace('PLATFORM', `${os}/${cpu}`),
);
