// Entry of the action's main step (dist/main.mjs).
import { runMainStep } from "./main-step.js";

await runMainStep();
