// Global teardown of the jest project e2e-pg: stops the cluster test/pg/e2e-global.ts started.
export default async function teardown() {
  globalThis.m4meE2ePgStop?.();
  delete globalThis.m4meE2ePgStop;
}
