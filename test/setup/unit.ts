// Before each unit test file: unit tests need no runner, so a test that takes 30 s is stuck.
import { jest } from "@jest/globals";

jest.setTimeout(30_000);
