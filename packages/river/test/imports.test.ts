/**
 * A deployed VR class takes what its module imports along (see src/code/): programs as users
 * write them, run as child processes — an ES module and a CommonJS program whose VR class
 * extends the user's own base class (from a module of theirs) and uses a Node builtin and
 * @river/sfm; and a user module exporting a name River exports too (`ANY`), which the class
 * must get, not River's.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

jest.setTimeout(60_000);

const FIXTURES = join(__dirname, 'fixtures', 'imports');
const run = async (file: string) => (await promisify(execFile)(process.execPath, [join(FIXTURES, file)], { timeout: 45_000 })).stdout.trim();

/** greet() of the base class, double() of the user's module, sha1('21') from node:crypto. */
const EXPECTED = JSON.stringify(['hello vm', 42, '472b07b9']);

test('an ES module: class Counter extends Actor (the user’s module), with ANY and createHash', async () => {
  expect(await run('counter.mjs')).toBe(EXPECTED);
});

test('CommonJS: the same class, its imports as require() bindings', async () => {
  expect(await run('counter.cjs')).toBe(EXPECTED);
});

test("a user module's export named like one of River's is the user's", async () => {
  expect(await run('shadow.mjs')).toBe(JSON.stringify("the user's own ANY"));
});
