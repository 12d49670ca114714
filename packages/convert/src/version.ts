/** Name and version written into every model and manifest this package produces. */
export const GENERATOR = '@treespec/convert 0.1.0';
