export { EagleDrafter, type EagleDrafterOptions } from './eagle-drafter.js';
