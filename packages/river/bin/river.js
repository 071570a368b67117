#!/usr/bin/env node
'use strict';
// The `river` command. This file is committed (dist/ is built later), so a package manager can link
// the bin when it installs the workspace, before `pnpm build`, without "Failed to create bin".
let cli;
try {
  cli = require('../dist/cli.js');
} catch (error) {
  if (error && error.code === 'MODULE_NOT_FOUND' && String(error.message).includes('dist/cli.js')) {
    process.stderr.write('river: this package is not built yet (no dist/cli.js): run `pnpm build` in the repository first\n');
    process.exit(1);
  }
  throw error;
}
cli.main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exitCode = code;
});
