import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

// Offline: no Request.cf download, no telemetry.
process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';
process.env.WRANGLER_SEND_METRICS = 'false';

const migrations = await readD1Migrations('./migrations');

// Four projects: pure core in Node; central and edge inside workerd (real D1, Queues, KV, R2);
// e2e + browser against the real local network started by the same code as `npm start`.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'core',
          environment: 'node',
          // test/bench: the benchmarks' own logic (not their figures).
          include: ['test/core/**/*.test.ts', 'test/bench/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        // The scripts' own rules (the deploy check) in Node, without starting any worker.
        test: {
          name: 'scripts',
          environment: 'node',
          include: ['test/scripts/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: migrations,
                // The local-development marker (wrangler.toml says production): local secrets are
                // honoured for loopback requests only, so tests call http://central.localhost.
                ENVIRONMENT: 'development',
                EDGE_KEY_SECRET: 'test-edge-secret',
                // No quiet period in tests: a change is in the next snapshot fetch (the debounce has its own test).
                SNAPSHOT_QUIET_MS: '0',
                // No background rebuilds racing a test's own snapshot fetches: the push is tested
                // with it turned on per request (test/central/snapshot-push.test.ts) and end to end
                // (test/e2e/snapshot-push.test.ts).
                SNAPSHOT_PUSH: 'off',
              },
            },
          }),
        ],
        test: {
          name: 'central',
          // test/db: the query functions of src/db/queries against the same migrated D1.
          include: ['test/central/**/*.test.{ts,tsx}', 'test/db/**/*.test.ts'],
          setupFiles: ['test/central/apply-migrations.ts'],
          // Real HTTP servers on loopback: a tenant's CRM endpoint (webhook delivery tests), and the
          // HubSpot and Dynamics 365 fakes (fakes/) for the connector contract suites.
          globalSetup: ['test/support/crm-receiver.ts', 'test/support/crm-fakes.ts'],
          // A cap, not a target: on a loaded 2-core machine real D1 work (10,000-row imports,
          // sharded snapshot builds) takes many times its usual second. Speed lives in the bench.
          testTimeout: 60_000,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.edge.toml', environment: 'us' },
            miniflare: {
              bindings: {
                // The local-development marker, as for central: tests call http://edge.localhost.
                ENVIRONMENT: 'development',
                EDGE_SIGNING_KEY: 'test-signing-key-us',
                EDGE_TOKEN: 'test-edge-token-us',
                CENTRAL_URL: 'http://central.test',
              },
            },
          }),
        ],
        test: { name: 'edge', include: ['test/edge/**/*.test.ts'], testTimeout: 60_000 },
      },
      {
        // Fault injection against the real local network (test/faults/harness.ts).
        test: {
          name: 'faults',
          environment: 'node',
          include: ['test/faults/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 240_000,
        },
      },
      {
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['test/e2e/**/*.test.ts', 'test/browser/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
