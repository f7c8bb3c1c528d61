// Jest's node environment, which also removes the temporary directories that a test file made
// through test/helpers/temp.ts once the file is done (after its last afterAll, also when a test or
// hook failed). Plain JavaScript: jest loads the environment itself, untransformed.
import { rmSync } from "node:fs";
import { TestEnvironment } from "jest-environment-node";

/** The key test/helpers/temp.ts notes its directories under, on the test file's global object. */
const TEMP_DIRS = Symbol.for("remote-buildkit.test-temp-dirs");

export default class EnvironmentRemovingTempDirs extends TestEnvironment {
  async teardown() {
    try {
      for (const dir of this.global[TEMP_DIRS]?.splice(0) ?? [])
        rmSync(dir, { recursive: true, force: true });
    } finally {
      await super.teardown();
    }
  }
}
