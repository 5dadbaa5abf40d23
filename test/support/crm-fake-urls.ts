// The fakes' base URLs, provided by test/support/crm-fakes.ts to the central project's suites.
declare module 'vitest' {
  interface ProvidedContext {
    /** Base URL of the HubSpot fake (fakes/hubspot.ts). */
    hubspotFake: string;
    /** Base URL of the Dynamics 365 / Dataverse fake (fakes/dynamics365.ts). */
    dynamicsFake: string;
  }
}

export {};
