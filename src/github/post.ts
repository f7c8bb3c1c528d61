// Entry of the action's post step (dist/post.mjs).
import { runPostStep } from "./post-step.js";

await runPostStep();
