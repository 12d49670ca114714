import type { IncomingMessage, ServerResponse } from 'node:http';

export const ISOLATION_HEADERS: Record<string, string>;
export const MODEL_PATH: string;
export function treespecHandler(options?: {
  root?: string | null;
  testRoutes?: boolean;
}): (req: IncomingMessage, res: ServerResponse, next: (() => void) | null) => Promise<void>;
export function serve(
  root: string,
  options?: { port?: number; testRoutes?: boolean },
): Promise<{ url: string; close: () => Promise<void> }>;
