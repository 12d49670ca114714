export { GreedyVerifier } from './greedy-verifier.js';
