// Central's liveness: the database answers.
export { pingDatabase } from '../../db/queries/health.js';
