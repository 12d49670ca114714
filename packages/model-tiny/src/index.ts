export { TINY_BUNDLE, TINY_MODEL_IDS, type TinyModelId } from './bundle.js';
