import { access } from 'node:fs/promises';
import { join } from 'node:path';

/** Where Linux distributions put the Vulkan loader. */
const LIBRARY_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/lib64',
  '/lib',
];

/**
 * Whether the Vulkan loader (libvulkan.so.1), which Dawn needs for WebGPU on Linux, is in one of
 * `dirs` (default: LD_LIBRARY_PATH, then the usual library folders). Without it Dawn prints its
 * own warning to stderr before failing; checking first lets the caller fail with a clear error only.
 */
export async function hasVulkanLoader(
  dirs: readonly string[] = [
    ...(process.env.LD_LIBRARY_PATH?.split(':').filter(Boolean) ?? []),
    ...LIBRARY_DIRS,
  ],
): Promise<boolean> {
  for (const dir of dirs) {
    try {
      await access(join(dir, 'libvulkan.so.1'));
      return true;
    } catch {}
  }
  return false;
}
