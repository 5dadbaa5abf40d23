import { applyD1Migrations, env } from 'cloudflare:test';

// Runs before each central test file: a real local D1 with the project's migrations.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
