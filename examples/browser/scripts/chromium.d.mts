import type { BrowserContext, Page } from 'playwright-core';

export const CHROMIUM: string;
export function hasChromium(): boolean;
export function launchChromium(options?: {
  webgpu?: boolean;
}): Promise<{ context: BrowserContext; page: Page; close: () => Promise<void> }>;
