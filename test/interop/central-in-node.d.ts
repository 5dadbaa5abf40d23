// tryton.test.ts imports the Tryton adapter directly (it uses fetch only). Its contract types
// (connectors/types.ts → api/serializers.ts) reach central modules typed against the Workers
// runtime, which this Node program (tsconfig.json, types: node) does not load; these opaque
// stand-ins let it compile them. Central's own tsconfig checks those modules with the real types.
// biome-ignore lint/suspicious/noExplicitAny: an opaque stand-in, see above
type CentralEnv = any;
// biome-ignore lint/suspicious/noExplicitAny: an opaque stand-in, see above
type D1Database = any;
// biome-ignore lint/suspicious/noExplicitAny: an opaque stand-in, see above
type D1PreparedStatement = any;
