export { TINY_BUNDLE, TINY_CHAT_TEMPLATE, TINY_MODEL_IDS, type TinyModelId } from './bundle.js';
