#!/usr/bin/env node
// Loads a speedscope file (pystack-dump record --format=speedscope) with speedscope itself and
// prints what speedscope made of it. The npm package ships only the built web app (no importer
// node could call), so this serves that app and FILE on 127.0.0.1 (a port of the system's
// choosing), opens `index.html#profileURL=...` (speedscope's documented way to load a profile
// from a URL) in headless Chromium, waits for the flame chart, then reads back:
// - from the page: the profile shown (in the toolbar) and the names its thread selector holds;
// - from speedscope's own Export (Ctrl+S: the download it writes from the profiles it built), each
//   profile's unit and total weight (speedscope's getTotalWeight()) and the frame names.
// It prints
//   {"loaded": true, "name": the document's name as exported, "profiles": [names],
//    "shown": the profile on screen, "in_page": the names the page holds, "units": {name: unit}, "total_weights": {name: weight},
//    "frames": [names], "exporter": speedscope's exporter string, "page_errors": [...]}
// $SPEEDSCOPE_SCREENSHOT=FILE.png also saves what the page shows.
// and exits 1 with a message when speedscope shows its error page or loads nothing.
import { createReadStream, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { fail, fileArgument, launchChromium, packageDir, print } from './consumers.mjs';

const file = path.resolve(fileArgument('read_speedscope.mjs FILE'));
readFileSync(file);  // fails early, with node's message, on a missing file

// speedscope's own page, from the installed package.
const appDir = path.join(packageDir('speedscope'), 'dist/release');
const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css',
                '.json': 'application/json', '.wasm': 'application/wasm' };
const profilePath = '/profile/' + encodeURIComponent(path.basename(file));
const server = http.createServer((request, response) => {
  const url = new URL(request.url, 'http://127.0.0.1');
  let local;
  if (url.pathname === profilePath) {
    local = file;
  } else {
    local = path.join(appDir, path.normalize(decodeURIComponent(url.pathname)));
    if (!local.startsWith(appDir + path.sep)) local = null;
  }
  if (!local) {
    response.writeHead(404).end();
    return;
  }
  const stream = createReadStream(local);
  stream.on('error', () => response.writeHead(404).end());
  stream.on('open', () => {
    response.writeHead(200, { 'Content-Type': types[path.extname(local)] || 'application/octet-stream' });
    stream.pipe(response);
  });
});
await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  const errors = [];
  page.on('pageerror', e => errors.push(e.message));
  page.on('console', m => m.type() === 'error' && errors.push(m.text()));
  page.on('dialog', dialog => {
    errors.push(`dialog: ${dialog.message()}`);
    dialog.dismiss();
  });
  await page.goto(`${base}/index.html#profileURL=${encodeURIComponent(base + profilePath)}`);

  // Loaded: the flame chart's canvas and the toolbar's Export tab; failed: the error page.
  const outcome = await Promise.race([
    page.getByText('Export', { exact: false }).first().waitFor({ timeout: 30000 })
      .then(() => 'loaded'),
    page.getByText('Something went wrong').waitFor({ timeout: 30000 }).then(() => 'error'),
  ]).catch(e => `timeout: ${e.message}`);
  if (outcome !== 'loaded') {
    fail(`${file}: speedscope did not load it (${outcome}) ${errors.join('; ')}`);
  }

  // The toolbar's middle shows the profile on screen and, with several, "(i/n)"; clicking it
  // opens the thread selector, which lists every profile.
  const toolbarText = await page.evaluate(() => document.body.innerText);

  // speedscope's own export of what it loaded.
  const download = page.waitForEvent('download', { timeout: 30000 });
  await page.keyboard.press('Control+s');
  const exported = JSON.parse(readFileSync(await (await download).path(), 'utf8'));
  const names = exported.profiles.map(p => p.name);
  if (!names.length) fail(`${file}: speedscope loaded no profile`);
  const shown = names.find(n => toolbarText.includes(n)) ?? null;

  // The thread selector (hidden until the toolbar's name is clicked) lists every profile.
  const documentText = await page.evaluate(() => document.body.textContent);
  const selector = names.filter(n => documentText.includes(n));
  if (process.env.SPEEDSCOPE_SCREENSHOT) {
    await page.screenshot({ path: process.env.SPEEDSCOPE_SCREENSHOT });
  }
  const units = {}, weights = {};
  for (const p of exported.profiles) {
    units[p.name] = p.unit;
    weights[p.name] = p.endValue - p.startValue;
  }
  print({
    loaded: true,
    name: exported.name,
    profiles: names,
    shown,
    in_page: selector,
    units,
    total_weights: weights,
    frames: exported.shared.frames.map(f => f.name),
    exporter: exported.exporter,
    page_errors: errors,
  });
} finally {
  await browser.close();
  server.closeAllConnections();  // the page's keep-alive connections would hold node 5 s more
  server.close();
}
