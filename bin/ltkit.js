#!/usr/bin/env node
// ltkit command-line entry (compiled TypeScript lives in dist/; `npm run setup` builds it).
'use strict';
const path = require('path');
const fs = require('fs');
const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write("ltkit: not built yet — run 'npm run setup' in " + path.join(__dirname, '..') + '\n');
  process.exit(1);
}
require(entry)
  .main(process.argv.slice(2))
  .then((code) => process.exit(code));
