// What the device scripts share: medians, and rounds of one measurement per bundle, interleaved.

/** The median of `values`. */
export const median = (values) => [...values].sort((x, y) => x - y)[values.length >> 1];

/**
 * Runs `measure(subject)` for every subject in turn, `rounds` times, and prints each one's results
 * (`describe(result)`) a line per subject, labelled. Every result's `out` (the tokens it produced)
 * must equal the first one's: the bundles compared must compute the same thing.
 */
export async function interleaved(labels, subjects, measure, describe, rounds = 4) {
  const results = subjects.map(() => []);
  let first = null;
  for (let round = 0; round < rounds; round++)
    for (let s = 0; s < subjects.length; s++) {
      const result = await measure(subjects[s]);
      first ??= result.out;
      if (result.out !== first) throw new Error(`${labels[s]} produced other tokens than ${labels[0]}`);
      results[s].push(result);
    }
  for (let s = 0; s < subjects.length; s++) console.log(labels[s], results[s].map(describe).join(' | '));
}
