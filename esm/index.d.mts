// Types of esm/index.mjs: the CommonJS build's declarations, and the module object as the default export.
import * as lt from '../dist/src/index.js';
export * from '../dist/src/index.js';
export default lt;
