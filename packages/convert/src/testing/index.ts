export {
  causalBias,
  emptyCache,
  headCounts,
  int64Row,
  type KvCache,
  MASKED,
  maxAbsDiff,
  noDrawFeeds,
  openSession,
  runDecoder,
  runSequence,
} from './reference-decoder.js';
