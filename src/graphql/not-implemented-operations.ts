// The operations of a schema built without a backend (the generated SDL, `crdgate schema`): every
// root field answers NOT_IMPLEMENTED.
import { GraphQLError } from 'graphql';
import type { OperationName, ResourceOperations } from '../contract/operations.ts';

function notImplemented(operation: OperationName): never {
  throw new GraphQLError(`The ${operation} operation is not implemented by this gateway`, {
    extensions: { code: 'NOT_IMPLEMENTED', operation },
  });
}

/** The default: every operation fails with extensions.code NOT_IMPLEMENTED. */
export const notImplementedOperations: ResourceOperations = {
  get: async () => notImplemented('get'),
  list: async () => notImplemented('list'),
  create: async () => notImplemented('create'),
  replace: async () => notImplemented('replace'),
  patch: async () => notImplemented('patch'),
  updateStatus: async () => notImplemented('updateStatus'),
  getScale: async () => notImplemented('getScale'),
  updateScale: async () => notImplemented('updateScale'),
  delete: async () => notImplemented('delete'),
  deleteCollection: async () => notImplemented('deleteCollection'),
  watch: async () => notImplemented('watch'),
  owners: async () => notImplemented('owners'),
  children: async () => notImplemented('children'),
  events: async () => notImplemented('events'),
};
