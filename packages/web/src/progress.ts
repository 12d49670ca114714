/** Progress of one file of a model bundle. */
export interface FileProgress {
  url: string;
  /** Bytes received (or read from the cache) so far. */
  loaded: number;
  /** The file's size, once known (Content-Length or the cached entry); null before. */
  total: number | null;
  /** True when the bytes come from the Cache Storage instead of the network. */
  fromCache: boolean;
  done: boolean;
}

/** Progress of a whole load: every file started so far, and the sums. */
export interface LoadProgress {
  /** Bytes loaded over all files. */
  loaded: number;
  /** Sum of all sizes; null while any started file's size is still unknown. */
  total: number | null;
  /** loaded ÷ total in [0, 1], or null while the total is unknown. */
  fraction: number | null;
  /** Bytes that came over the network (not from the cache). */
  downloaded: number;
  files: FileProgress[];
}

/**
 * Adds up the progress of the files of a load and reports it through `onProgress`, at most once
 * per `intervalMs` (a large model arrives in thousands of chunks), and always when a file starts
 * or finishes.
 */
export class ProgressTracker {
  private readonly files = new Map<string, FileProgress>();
  private readonly onProgress: ((progress: LoadProgress) => void) | undefined;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private lastReport = Number.NEGATIVE_INFINITY;

  constructor(
    onProgress?: (progress: LoadProgress) => void,
    options: { intervalMs?: number; now?: () => number } = {},
  ) {
    this.onProgress = onProgress;
    this.intervalMs = options.intervalMs ?? 50;
    this.now = options.now ?? (() => performance.now());
  }

  /** Registers a file; its size may still be unknown. */
  start(url: string, total: number | null, fromCache: boolean): void {
    this.files.set(url, { url, loaded: 0, total, fromCache, done: false });
    this.report(true);
  }

  /** Records that `loaded` bytes of `url` have arrived. */
  update(url: string, loaded: number): void {
    const file = this.files.get(url);
    if (!file) return;
    file.loaded = loaded;
    this.report(false);
  }

  /** Marks a file complete; its size becomes what was received. */
  finish(url: string, loaded: number): void {
    const file = this.files.get(url);
    if (!file) return;
    file.loaded = loaded;
    file.total = loaded;
    file.done = true;
    this.report(true);
  }

  /** The progress now. */
  snapshot(): LoadProgress {
    let loaded = 0;
    let total: number | null = 0;
    let downloaded = 0;
    const files: FileProgress[] = [];
    for (const file of this.files.values()) {
      loaded += file.loaded;
      if (!file.fromCache) downloaded += file.loaded;
      total = total === null || file.total === null ? null : total + file.total;
      files.push({ ...file });
    }
    const fraction = total === null ? null : total === 0 ? 1 : Math.min(1, loaded / total);
    return { loaded, total, fraction, downloaded, files };
  }

  private report(force: boolean): void {
    if (!this.onProgress) return;
    const now = this.now();
    if (!force && now - this.lastReport < this.intervalMs) return;
    this.lastReport = now;
    this.onProgress(this.snapshot());
  }
}
