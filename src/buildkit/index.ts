// The public surface of the BuildKit client library. Nothing here imports @actions/*.
export * from "./client.js";
export * from "./endpoint.js";
export * from "./errors.js";
export * from "./platform.js";
export * from "./tls.js";
export * from "./frontend-call.js";
export * from "./ssh-dialer.js";
export * from "./git-context.js";
