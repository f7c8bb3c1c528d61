// Jest runs the tests as two projects, `unit` (no runner needed) and `integration` (against the
// registry and runner that scripts/test.ts starts once for the run); `npm test` runs both, see the
// README. Tests are ESM TypeScript, compiled file by file by ts-jest (`npm run typecheck` checks
// their types), in an environment that removes their temporary directories afterwards.

/** @type {import("jest").Config} */
const project = {
  testEnvironment: "<rootDir>/test/setup/environment.js",
  extensionsToTreatAsEsm: [".ts"],
  // Imports name the compiled `.js` file (NodeNext); jest resolves the `.ts` source instead.
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  transform: { "^.+\\.ts$": ["ts-jest", { useESM: true }] },
  // Not jest's default under /tmp: a test run leaves nothing there.
  cacheDirectory: "<rootDir>/node_modules/.cache/jest",
};

/** @type {import("jest").Config} */
export default {
  verbose: true,
  projects: [
    {
      ...project,
      displayName: "unit",
      testMatch: ["<rootDir>/test/unit/**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/setup/unit.ts"],
    },
    {
      ...project,
      displayName: "integration",
      testMatch: ["<rootDir>/test/integration/**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/setup/integration.ts"],
    },
  ],
};
