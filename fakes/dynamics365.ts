import { startFake } from './fake-http.js';

export function startDynamicsFake(port = 0) {
  return startFake(
    {
      createTenant: () => ({ faults: [], log: [] }),
      handle: () => ({ status: 404 }),
      state: () => ({}),
      control: () => undefined,
    },
    port,
  );
}
