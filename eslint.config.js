// ESLint for the TypeScript sources, tests and scripts; generated code and bundles are left out.
// Two import rules keep the layers apart (test/unit/layers.test.ts checks the whole graph):
// @actions/* only in the GitHub adapter, and the client library only through its public entry.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const ACTIONS_ONLY_IN_GITHUB = {
  group: ["@actions/*"],
  message: "@actions/* belongs to the GitHub adapter (src/github/); the CLI bundle must not carry it.",
};
const LIBRARY_THROUGH_ITS_ENTRY = {
  regex: "(^|/)buildkit/(?!index\\.js$)",
  message: "Use the BuildKit client library through its public entry, src/buildkit/index.ts.",
};

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "src/buildkit/proto/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setImmediate: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  {
    files: ["src/**"],
    ignores: ["src/buildkit/**", "src/github/**"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [ACTIONS_ONLY_IN_GITHUB, LIBRARY_THROUGH_ITS_ENTRY] }],
    },
  },
  {
    files: ["src/buildkit/**"],
    rules: { "no-restricted-imports": ["error", { patterns: [ACTIONS_ONLY_IN_GITHUB] }] },
  },
  {
    files: ["src/github/**"],
    rules: { "no-restricted-imports": ["error", { patterns: [LIBRARY_THROUGH_ITS_ENTRY] }] },
  },
);
