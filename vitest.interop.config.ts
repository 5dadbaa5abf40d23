import { defineConfig } from 'vitest/config';

// `npm run test:interop`: suites that drive real third-party mail software (Postfix, swaks,
// Pigeonhole Sieve, xmllint) installed from Debian packages by .ci/run. Not part of `npm test`,
// which needs nothing from apt. Same real local network as the e2e suite.
process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';
process.env.WRANGLER_SEND_METRICS = 'false';

export default defineConfig({
  test: {
    name: 'interop',
    environment: 'node',
    include: ['test/interop/**/*.test.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 240_000,
  },
});
