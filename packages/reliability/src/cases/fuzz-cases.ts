/** The seeded, time-bounded fuzz runs, as the catalogue lists them. */
export const FUZZ_CASES = [
  {
    id: 'fuzz-manifest',
    fault: 'seeded mutations (1–4 each) of the tiny manifest: deleted, swapped and hostile fields',
    outcome:
      'each parses and checks clean or is refused with a `ModelFormatError`; up to 3 s or 3000 manifests',
  },
  {
    id: 'fuzz-manifest-load',
    fault: 'seeded mutations of the tiny manifest that pass validation, loaded for real',
    outcome: 'each loads clean or is refused with a `TreespecError`; up to 8 manifests',
  },
  {
    id: 'fuzz-safetensors-header',
    fault: 'seeded mutations of the tiny draft checkpoint’s safetensors header (dtypes, shapes, offsets)',
    outcome: 'each opens and reads clean or is refused with a `CheckpointError`; up to 3 s or 400 files',
  },
  {
    id: 'fuzz-torch-pickle',
    fault: 'seeded byte mutations (1–4 each) of the pickle inside a state dict that torch saved',
    outcome:
      'each opens and reads clean or is refused with a `CheckpointError`, and never runs the pickle; up to 3 s or 2000 files',
  },
] as const;
