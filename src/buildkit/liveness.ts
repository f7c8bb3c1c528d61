// Noticing, mid-build, a runner that stopped answering: frozen (SIGSTOP, a hung host) or behind a
// link that drops every packet. TCP notices neither for minutes, and HTTP/2 pings cannot help:
// buildkitd's gRPC server closes a connection that pings more often than every 5 minutes. What
// the daemon does on its own is the signal: it checks our session's health every 5 seconds, and
// Status streams progress. When both have been quiet for QUIET_MS, one bounded call (ListWorkers)
// asks the runner directly; no answer within PROBE_TIMEOUT_MS means it is gone. A RUN that prints
// nothing for an hour on a healthy runner is never mistaken for this: the health checks go on.
// A connection that closes (reset, the runner killed) is noticed at once; within a second where
// Node failed to report the reset (reset-sockets.ts).
import { RunnerUnresponsiveError, type RunnerGoneError } from "./errors.js";
import type { BuildkitClient } from "./client.js";
import { Control } from "./proto/moby/buildkit/v1/control_pb.js";
import { callUnary, isServiceError } from "./rpc.js";
import { destroyResetSockets } from "./reset-sockets.js";
import { Status as GrpcStatus } from "./grpc/status.js";

/** Quiet this long (no health check, no Status) and the runner is asked directly. */
export const QUIET_MS = 12_000;
/** How long that direct question may go unanswered. */
export const PROBE_TIMEOUT_MS = 10_000;
const TICK_MS = 1_000;
/** A timer this late means this process was stalled. */
const STALL_MS = 1_000;

export interface LivenessWatch {
  /** The runner showed a sign of life (a session health check, a Status message). */
  heard(): void;
  stop(): void;
}

/**
 * Watches `client` until stopped; calls `onGone` once, with the sentence to show, when the runner
 * stopped answering or the connection to it was lost.
 */
export function watchLiveness(
  client: BuildkitClient,
  onGone: (error: RunnerGoneError) => void,
): LivenessWatch {
  let lastHeard = Date.now();
  let probing: AbortController | undefined;
  let stopped = false;
  const address = client.endpoint.address;

  const gone = (error: RunnerGoneError) => {
    if (stopped) return;
    stop();
    onGone(error);
  };

  const probe = () => {
    probing = new AbortController();
    const startedAt = Date.now();
    const quietSeconds = Math.round((Date.now() - lastHeard) / 1000);
    callUnary(
      client.connection,
      Control.method.listWorkers,
      {},
      { timeoutMs: PROBE_TIMEOUT_MS, signal: probing.signal },
    )
      .then(
        () => (lastHeard = Date.now()),
        (error: unknown) => {
          if (stopped) return;
          if (stalledSince >= startedAt) {
            lastHeard = Date.now();
            return;
          }
          if (isServiceError(error) && error.code === GrpcStatus.UNAVAILABLE) {
            gone(client.lostMidBuild(error.details));
          } else if (isServiceError(error) && error.code === GrpcStatus.DEADLINE_EXCEEDED) {
            gone(
              new RunnerUnresponsiveError(
                `The runner at ${address} stopped answering mid-build: nothing from it for ${quietSeconds} s, and no answer to a check within ${PROBE_TIMEOUT_MS / 1000} s.`,
                address,
              ),
            );
          } else {
            // It answered, if with an error: it is alive.
            lastHeard = Date.now();
          }
        },
      )
      .finally(() => (probing = undefined));
  };

  // Every call of the build shares the client's one connection: when it closes, the build is
  // lost, whatever the calls still waiting say (a reset mid-upload could leave one pending).
  const stopWatchingConnection = client.connection.onLost((failure) =>
    gone(client.lostMidBuild(failure === undefined ? "it closed" : `it closed: ${failure}`)),
  );

  // When this process itself was too busy to run the timer (its event loop blocked, or the
  // machine starved of CPU), the runner's signs of life went unread: the quiet is ours, not the
  // runner's, and a probe that timed out meanwhile proves nothing.
  let lastTick = Date.now();
  let stalledSince = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    if (now - lastTick > TICK_MS + STALL_MS) {
      lastHeard = now;
      stalledSince = now;
    }
    lastTick = now;
    // A reset Node left unreported (reset-sockets.ts): destroyed, the connection sees the loss,
    // and the watch above says so.
    destroyResetSockets();
    if (probing === undefined && now - lastHeard >= QUIET_MS) probe();
  }, TICK_MS);
  // The timer does not hold the process open, so that a process with nothing left to wait for
  // says why: a connection can die without the calls on it failing (grpc-js did, once in twenty
  // resets mid-upload), and then nothing is left that could ever answer. Node would exit with 13
  // and no word (an await that never settles); the build ends with the sentence instead.
  timer.unref();
  const onIdle = () => gone(client.lostMidBuild("it closed"));
  process.on("beforeExit", onIdle);

  function stop() {
    stopped = true;
    stopWatchingConnection();
    process.off("beforeExit", onIdle);
    clearInterval(timer);
    probing?.abort();
  }

  return { heard: () => (lastHeard = Date.now()), stop };
}
