// ESLint: typescript-eslint's type-checked recommended rules over the TypeScript (src, test, bench, ormconfig.ts);
// eslint-config-prettier last, so formatting is Prettier's alone (`npm run lint` checks both).
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      'dist/',
      'coverage/',
      'data/',
      // Compiled by its e2e test against types generated at run time, so outside tsconfig.json (see its exclude).
      'test/fixtures/openapi-client/client-flow.ts',
    ],
  },
  {
    files: ['**/*.ts'],
    extends: [eslint.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Leaving properties out with a rest pattern (`const { token_hash: _hash, ...fields } = row`) is how the code
      // omits them; the names are unused on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // Passing a caught `unknown` on to reject() is a rethrow, not a new non-Error rejection; literals and other
      // known non-Error values are still reported.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // The code rejects NUL in input and parses terminal output (ANSI escapes), so \x00-\x1f in a regular
      // expression is always written as an escape, on purpose; the rule would only flag those.
      'no-control-regex': 'off',
    },
  },
  {
    // Specs read supertest's `res.body`, JSON.parse results and Jest's asymmetric matchers (`expect.any()`,
    // `expect.stringMatching()`), all typed `any` by their libraries; the assertion is what checks the shape, so
    // casting every read would add noise, not safety. Test helpers (test/helpers/*.ts) and src stay strict.
    files: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [eslint.configs.recommended],
    languageOptions: {
      globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly' },
    },
  },
  { files: ['**/*.js'], languageOptions: { sourceType: 'commonjs' } },
  prettier,
);
