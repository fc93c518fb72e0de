import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);
const cli = (...args: string[]): Promise<{ stdout: string; stderr: string }> => run(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'bin.ts'), ...args]);

describe('framewire --version', () => {
  it("prints package.json's version and exits 0", async () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const { stdout } = await cli('--version');
    expect(stdout.trim()).toBe(version);
  });

  it('is listed in --help with every command', async () => {
    const { stdout } = await cli('--help');
    expect(stdout).toContain('--version');
    for (const command of ['demo', 'serve', 'upload', 'tail', 'inspect', 'bench', 'conformance']) expect(stdout).toContain(command);
  });

  // The start time of `framewire --version` and `--help` (issue 13: under 0.2 s) depends on the
  // commands loading their code only when they run. The CommonJS packages below show in
  // require.cache once loaded: pino (every logger), cli-progress (upload) and the CRC-32 bindings
  // (src/wire, which every protocol module imports).
  it('building the program loads neither the protocol code nor the logger', async () => {
    const script = `
      import { createRequire } from 'node:module';
      const { buildProgram } = await import(${JSON.stringify(join(root, 'src', 'cli', 'main.ts'))});
      buildProgram().helpInformation();
      console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root });
    const loaded = JSON.parse(stdout) as string[];
    expect(loaded.filter((path) => /node_modules[/\\](pino|cli-progress|@node-rs[/\\]crc32|crc-32)[/\\]/u.test(path))).toEqual([]);
  });
});
