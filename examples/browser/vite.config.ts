import { defineConfig, type Plugin } from 'vite';
import { ISOLATION_HEADERS, treespecHandler } from './scripts/serve.mjs';

/** Serves the tiny model at /models/tiny/ from @treespec/model-tiny in `vite` and `vite preview`. */
function tinyModel(): Plugin {
  const handler = treespecHandler();
  return {
    name: 'treespec-tiny-model',
    configureServer(server) {
      server.middlewares.use((req, res, next) => void handler(req, res, next));
    },
    configurePreviewServer(server) {
      server.middlewares.use((req, res, next) => void handler(req, res, next));
    },
  };
}

export default defineConfig({
  plugins: [tinyModel()],
  // Cross-origin isolation lets onnxruntime-web run WASM on several threads.
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  worker: { format: 'es' },
  // onnxruntime-web finds its .wasm files next to its own module; pre-bundling would move it.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: { target: 'es2022', chunkSizeWarningLimit: 1024 },
});
