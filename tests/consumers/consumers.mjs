// What the reader scripts share: where scripts/install-consumers put the npm packages, and how a
// script ends (one JSON object on stdout, or a message on stderr and a non-zero exit).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// build/consumers of the repository, or $PYSTACK_CONSUMERS_DIR (another build directory).
export const consumersDir =
  process.env.PYSTACK_CONSUMERS_DIR || path.resolve(here, '../../build/consumers');

const requireFromConsumers = createRequire(path.join(consumersDir, 'package.json'));

// A package of tests/consumers/package.json, as installed in consumersDir (CommonJS builds: the
// scripts live outside that node_modules, where a bare ES import would not find them).
export function requirePackage(name) {
  try {
    return requireFromConsumers(name);
  } catch (e) {
    fail(`${name} is not installed in ${consumersDir} (scripts/install-consumers): ${e.message}`);
  }
}

export function packageDir(name) {
  return path.dirname(requireFromConsumers.resolve(`${name}/package.json`));
}

// Debian's chromium, driven by playwright-core; --no-sandbox because the tests may run as root.
export async function launchChromium() {
  const { chromium } = requirePackage('playwright-core');
  return chromium.launch({
    executablePath: process.env.PYSTACK_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
    headless: true,
  });
}

export function fileArgument(usage) {
  const file = process.argv[2];
  if (!file || process.argv.length > 3) fail(`usage: ${usage}`);
  return file;
}

export function print(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
}

export function fail(message) {
  process.stderr.write(`${path.basename(process.argv[1] || 'consumer')}: ${message}\n`);
  process.exit(1);
}
