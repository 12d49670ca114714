// The Web Worker that runs the whole decoder: model loading, onnxruntime-web and generation.
import { serveTreespecWorker } from '@treespec/web';

serveTreespecWorker();
