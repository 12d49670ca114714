import { CheckpointError } from '../../src/index.js';

/** The CheckpointError `promise` rejects with; any other outcome fails the test. */
export async function problemOf(promise: Promise<unknown>): Promise<CheckpointError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CheckpointError) return error;
    throw error;
  }
  throw new Error('expected a CheckpointError');
}
