import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { hasVulkanLoader } from '../src/vulkan-loader.js';

describe('hasVulkanLoader', () => {
  it('finds libvulkan.so.1 in any of the given folders, and not where it is absent', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'treespec-lib-'));
    const withLoader = mkdtempSync(join(tmpdir(), 'treespec-lib-'));
    onTestFinished(() => {
      for (const dir of [empty, withLoader]) rmSync(dir, { recursive: true, force: true });
    });
    writeFileSync(join(withLoader, 'libvulkan.so.1'), '');
    expect(await hasVulkanLoader([empty])).toBe(false);
    expect(await hasVulkanLoader([empty, withLoader])).toBe(true);
  });
});
