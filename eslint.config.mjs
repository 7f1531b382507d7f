// ESLint flat config: @eslint/js recommended, typescript-eslint type-checked rules (through the
// TS project service, so tsconfig.json decides what is typed), and @pulumi/eslint-plugin.
import js from "@eslint/js";
import pulumi from "@pulumi/eslint-plugin";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  {
    // Fixture programs (plain CommonJS the tests run as daemons) are not part of the project.
    ignores: [
      "dist/",
      "node_modules/",
      ".toolchain/",
      "bench/out/",
      "bench/results/",
      "**/*.d.ts",
      "test/fixtures/**/*.js",
      "bench/fixtures/**/*.js",
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    // The plugin ships only `rules` (its README's `plugins: pulumi` is not valid flat config),
    // and they need type information.
    files: ["**/*.ts"],
    plugins: { "@pulumi": pulumi },
    rules: {
      "@pulumi/no-output-in-template-literal": "error",
      "@pulumi/no-output-instance-in-template-literal": "error",
    },
  },
  {
    rules: {
      // node:test tracks the promises test/describe/it return; awaiting them is not required.
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "describe", "it", "suite"] },
          ],
        },
      ],
      // `_` marks a parameter a signature requires, or a key dropped by destructuring.
      "@typescript-eslint/no-unused-vars": [
        "error",
        {
          argsIgnorePattern: "^_",
          varsIgnorePattern: "^_",
          caughtErrorsIgnorePattern: "^_",
          ignoreRestSiblings: true,
        },
      ],
      // Control characters in regexes here are deliberate: ANSI escapes (\x1b) and Docker's
      // multiplexed stream headers.
      "no-control-regex": "off",
    },
  },
  {
    // Stubs for async seams (`async () => true`) are the clearest way to write them in tests.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/require-await": "off" },
  },
  {
    // Plain JS config files are outside tsconfig.json: lint them without type information.
    files: ["**/*.{js,mjs,cjs}"],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
