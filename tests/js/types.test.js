// herald.d.ts, the client's hand-written types, against the client itself: tsc --strict
// compiles a page's use of every export (types/usage.ts, whose @ts-expect-error lines must fail
// to compile), and the module exports exactly what the types declare.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = fileURLToPath(new URL('.', import.meta.url));
const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));

test('tsc --strict accepts a page that uses every export and refuses its mistakes', async () => {
  const run = promisify(execFile);
  const result = await run(process.execPath, [tsc, '-p', `${here}types/tsconfig.json`]).then(
    () => ({ code: 0, output: '' }),
    (failure) => ({ code: failure.code, output: `${failure.stdout}${failure.stderr}` }),
  );
  assert.equal(result.code, 0, result.output);
});

test('herald.js exports exactly what herald.d.ts declares', async () => {
  const module = await import('../../source/js/herald.js');
  const types = await readFile(new URL('../../source/js/herald.d.ts', import.meta.url), 'utf8');
  const declared = [...types.matchAll(/^export (?:declare )?(?:const|function|class) (\w+)/gm)]
    .map((match) => match[1])
    .sort();
  assert.deepEqual(Object.keys(module).sort(), declared);
});
