declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import('cloudflare:test').D1Migration[];
    EDGE_KEY_SECRET: string;
  }
}

// Vite's `?raw` imports (test fixtures read as text inside workerd, where there is no file system).
declare module '*.eml?raw' {
  const text: string;
  export default text;
}

// The committed wrangler configs read as text (test/central/deploy-mode.test.ts).
declare module '*.toml?raw' {
  const text: string;
  export default text;
}
