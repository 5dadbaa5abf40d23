// The import direction of src, checked by `npm run check:deps` (part of `npm run check`, so of
// `npm test`). Layers, lowest first: core (pure) ← db ← central (contract ← services ← api,
// dashboard) and core ← edge, core ← relay. A front end (api/routes, dashboard/routes) parses,
// authorises, calls a service and renders; the use cases and every write sit below it.
// test/scripts/dependency-rules.test.ts proves each rule fires on a tree that breaks it.

const ROUTE_FILES = '^src/central/(api|dashboard)/routes/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'An import circle: the modules in it can only be understood, loaded and tested together. ' +
        'Move what both need into a module below them.',
      from: { path: '^src/' },
      to: {
        circular: true,
      },
    },
    {
      name: 'core-is-platform-free',
      severity: 'error',
      comment:
        'src/core runs unchanged in workerd, Node and tests (src/core/README.md): no Cloudflare, ' +
        'Hono, drizzle or Node built-in modules.',
      from: { path: '^src/core/' },
      to: {
        // Resolved (node_modules/hono/…) or not (cloudflare:workers exists only inside workerd).
        path: '^(cloudflare:|(node_modules/)?(hono|@hono|drizzle-orm|drizzle-kit|wrangler|@cloudflare)(/|$))',
      },
    },
    {
      name: 'core-imports-no-node-builtin',
      severity: 'error',
      comment: 'src/core is platform-free: no Node built-in modules (fs, crypto, …), with or without node:.',
      from: { path: '^src/core/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'core-imports-nothing-above',
      severity: 'error',
      comment: 'src/core is the bottom layer: it imports nothing of db, central, edge or relay.',
      from: { path: '^src/core/' },
      to: { path: '^src/(db|central|edge|relay)/' },
    },
    {
      name: 'db-imports-no-worker',
      severity: 'error',
      comment: 'src/db (schema and queries) sits below the workers: it imports nothing of central, edge or relay.',
      from: { path: '^src/db/' },
      to: { path: '^src/(central|edge|relay)/' },
    },
    {
      name: 'edge-is-not-central',
      severity: 'error',
      comment:
        'The edge and central are separate workers that meet only on the wire (src/core/wire.ts): ' +
        'neither imports the other, and the edge has no database.',
      from: { path: '^src/edge/' },
      to: { path: '^src/(central|db|relay)/' },
    },
    {
      name: 'central-is-not-edge',
      severity: 'error',
      comment: 'The edge and central are separate workers that meet only on the wire (src/core/wire.ts).',
      from: { path: '^src/central/' },
      to: { path: '^src/(edge|relay)/' },
    },
    {
      name: 'relay-is-alone',
      severity: 'error',
      comment: 'The SMTP relay talks to an edge over HTTP; it imports no worker and no database.',
      from: { path: '^src/relay/' },
      to: { path: '^src/(central|edge|db)/' },
    },
    {
      name: 'route-imports-no-db',
      severity: 'error',
      comment:
        'A route file parses, authorises, calls a service and renders: it reads and writes the ' +
        'database only through src/central/services (types may be imported).',
      from: { path: ROUTE_FILES },
      to: { path: '^src/db/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'route-imports-no-route',
      severity: 'error',
      comment:
        'Nothing imports a route file, least of all another route file: what two routes share ' +
        'belongs in src/central/services or src/central/contract.',
      from: { path: ROUTE_FILES },
      to: { path: ROUTE_FILES },
    },
    {
      name: 'front-ends-are-on-top',
      severity: 'error',
      comment:
        'The API and the dashboard are front ends: nothing below them imports them (schemas, ' +
        'serializers and OpenAPI helpers live in src/central/contract). Only app.ts mounts them.',
      from: { path: '^src/central/', pathNot: '^src/central/(api|dashboard)/|^src/central/app\\.ts$' },
      to: { path: '^src/central/(api|dashboard)/' },
    },
    {
      name: 'dashboard-is-not-api',
      severity: 'error',
      comment: 'The dashboard and the API share services and the contract, never each other.',
      from: { path: '^src/central/dashboard/' },
      to: { path: '^src/central/api/' },
    },
    {
      name: 'api-is-not-dashboard',
      severity: 'error',
      comment: 'The dashboard and the API share services and the contract, never each other.',
      from: { path: '^src/central/api/' },
      to: { path: '^src/central/dashboard/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a circle of types still ties the modules together for a reader.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.js', '.d.ts'],
    },
  },
};
