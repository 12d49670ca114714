export {
  causalBias,
  emptyCache,
  int64Row,
  type KvCache,
  MASKED,
  maxAbsDiff,
  openSession,
  runDecoder,
} from './reference-decoder.js';
