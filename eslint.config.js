// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layer rule of ARCHITECTURE.md: imports only point downward.
 * Each entry names a layer's folder and the project folders it must NOT import.
 * `socketModules` may only be touched by transport/ (and the CLI, conformance and bench harnesses).
 */
const socketModules = ['node:net', 'node:tls', 'node:dgram', 'node:http2', 'net', 'tls', 'dgram', 'http2'];
const layers = [
  { dir: 'src/wire', forbidden: ['flow', 'session', 'upload', 'objects', 'events', 'transport', 'cli', 'conformance', 'client', 'server', 'index'], sockets: false },
  { dir: 'src/flow', forbidden: ['session', 'upload', 'objects', 'events', 'transport', 'cli', 'conformance', 'client', 'server', 'index'], sockets: false },
  { dir: 'src/session', forbidden: ['upload', 'objects', 'events', 'transport', 'cli', 'conformance', 'client', 'server', 'index'], sockets: false },
  // objects/ (the read profile) sits beside upload/ and reads what the upload stores committed:
  // it may import upload/, never the other way round.
  { dir: 'src/upload', forbidden: ['objects', 'events', 'transport', 'cli', 'conformance', 'client', 'server', 'index'], sockets: false },
  { dir: 'src/objects', forbidden: ['events', 'transport', 'cli', 'conformance', 'client', 'server', 'index'], sockets: false },
  { dir: 'src/events', forbidden: ['upload', 'objects', 'transport', 'cli', 'conformance', 'client', 'server', 'index'], sockets: false },
  { dir: 'src/transport', forbidden: ['upload', 'objects', 'events', 'cli', 'conformance', 'client', 'server', 'index'], sockets: true },
  // The conformance runner builds frames with wire/ and talks through transport/ only, so one bug
  // cannot hide on both sides of a test.
  // Type-only imports are allowed there: the target-side echo service implements the StreamService
  // interface, but no runner code may call into the session.
  { dir: 'src/conformance', forbidden: ['session', 'flow', 'upload', 'objects', 'events', 'cli', 'perf', 'client', 'server', 'index'], sockets: true, typesAllowed: true },
  // The benchmark kinds (L6): the driver behind `framewire perf` is a client of the public protocol
  // (connect() and streams), and the service only implements StreamService, so neither may reach
  // into the session at runtime; types are allowed, as for the conformance target's services.
  { dir: 'src/perf', forbidden: ['session', 'flow', 'transport', 'upload', 'objects', 'events', 'cli', 'conformance', 'server', 'index'], sockets: false, typesAllowed: true },
];
// src/api/ holds the package's subpath entry points (L5, beside index.ts): no layer below imports them.
for (const layer of layers) layer.forbidden.push('api');

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const layerRules = layers.map(({ dir, forbidden, sockets, typesAllowed = false }) => ({
  files: [`${dir}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        paths: sockets ? [] : socketModules.map((name) => ({ name, message: `${dir} must not touch sockets: only src/transport does (ARCHITECTURE.md, L4).` })),
        patterns: [
          {
            // A relative import that climbs into a forbidden sibling: ../session/x.ts, ../../client.ts …
            regex: `^(\\.\\./)+(${forbidden.map(escape).join('|')})(/|\\.ts$|\\.js$|$)`,
            message: `${dir} may only import layers below it (ARCHITECTURE.md: imports only point downward).`,
            allowTypeImports: typesAllowed,
          },
        ],
      },
    ],
  },
}));

export default tseslint.config(
  // test/package/consumer is compiled by test/package/check.sh against the packed package, not the sources.
  { ignores: ['node_modules/**', 'dist/**', 'tmp/**', 'coverage/**', 'bench/results/**', 'spec/**/*.lua', 'test/package/consumer/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: false, requireDefaultForNonUnion: false }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
      // Bitwise arithmetic is the codec's daily bread.
      'no-bitwise': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The package smoke test: plain JavaScript run by node in a project that installed the tarball.
    files: ['test/package/smoke/*'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly', require: 'readonly', module: 'writable', Buffer: 'readonly', AbortController: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Byte indexing after an explicit bounds check is the codec's daily work; with
    // noUncheckedIndexedAccess every such read would otherwise need a runtime re-check.
    files: ['src/wire/**/*.ts', 'src/session/**/*.ts', 'src/flow/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  ...layerRules,
);
