// Before each integration test file: builds on a shared runner can take minutes, so a test has
// 10 minutes unless it says otherwise (jest's default of 5 s would cut real builds short).
import { jest } from "@jest/globals";

jest.setTimeout(10 * 60_000);
