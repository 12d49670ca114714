// Launches Debian's Chromium through playwright-core (never a downloaded browser) with flags that
// work as root in containers, in a fresh profile (so the Cache Storage starts empty).
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const FLAGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** WebGPU on SwiftShader, Chromium's software Vulkan: works headless without a GPU (slowly). */
const SOFTWARE_WEBGPU = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];

/** True when Debian's chromium is installed. */
export function hasChromium() {
  return existsSync(CHROMIUM);
}

/**
 * Starts Chromium headless in a new profile; `webgpu: true` enables a software WebGPU adapter,
 * otherwise the GPU is disabled (and WebGPU with it). Resolves { context, page, close }.
 */
export async function launchChromium({ webgpu = false } = {}) {
  const profile = await mkdtemp(join(tmpdir(), 'treespec-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...FLAGS, ...(webgpu ? SOFTWARE_WEBGPU : ['--disable-gpu'])],
    viewport: { width: 1200, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
