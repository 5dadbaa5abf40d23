// Global setup of the central project: the stateful HubSpot and Dynamics 365 fakes (fakes/) on
// loopback, for the connector contract suites. Each suite works in its own tenant (`/t/<name>`).
import type { TestProject } from 'vitest/node';
import { startDynamicsFake } from '../../fakes/dynamics365.js';
import { startHubspotFake } from '../../fakes/hubspot.js';
import './crm-fake-urls.js';

export default async function setup(project: TestProject) {
  const hubspot = await startHubspotFake();
  const dynamics = await startDynamicsFake();
  project.provide('hubspotFake', hubspot.url);
  project.provide('dynamicsFake', dynamics.url);
  return async () => {
    await hubspot.close();
    await dynamics.close();
  };
}
