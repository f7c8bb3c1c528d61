// ESLint for the TypeScript sources, tests and scripts; generated code and bundles are left out.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["@actions/*"], message: "src/buildkit is a client library without @actions imports." },
          ],
        },
      ],
    },
  },
  {
    // Only the client library is kept free of @actions/*; the adapters use it.
    files: [
      "src/github/**",
      "src/cli/**",
      "src/runner/**",
      "src/report/**",
      "src/outputs/**",
      "test/**",
      "scripts/**",
    ],
    rules: { "no-restricted-imports": "off" },
  },
);
