#!/usr/bin/env node
// Opens a flame graph SVG (pystack-dump record --format=svg) in headless Chromium and prints
// what a person would see and get:
//   {"title": the #title text,
//    "boxes": [{"name": data-name, "samples": data-samples, "width": the rect's rendered width
//               in px (getBoundingClientRect)}...] in document order,
//    "clicked": the box clicked: the widest box above the thread roots,
//    "zoomed": the boxes after that click: [{"name", "samples", "width"}] of those still shown,
//    "reset_widths_restored": whether "Reset Zoom" put every width back,
//    "search": {"term", "matched_text": the text of #matched, "highlighted": boxes recoloured},
//    "details": the details line while the pointer is over the first frame box}
// The search term is $SVG_SEARCH, or the function name of the clicked box. Exits 1 with a
// message when the page does not load as SVG, shows errors, or has no boxes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { fail, fileArgument, launchChromium, print } from './consumers.mjs';

const file = path.resolve(fileArgument('svg_boxes.mjs FILE.svg'));
readFileSync(file);  // fails early, with node's message, on a missing file

const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const errors = [];
  page.on('pageerror', e => errors.push(e.message));
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  // An ill-formed document shows Chromium's XML error page instead of the drawing.
  const parseError = await page.evaluate(() => {
    const e = document.querySelector('parsererror');
    return e ? e.textContent : document.documentElement.localName !== 'svg' ? 'not an SVG' : null;
  });
  if (parseError) fail(`${file}: ${parseError}`);

  const boxes = () => page.evaluate(() => Array.from(document.querySelectorAll('g.frame'))
    .filter(g => getComputedStyle(g).display !== 'none')
    .map(g => ({
      name: g.getAttribute('data-name'),
      samples: Number(g.getAttribute('data-samples')),
      width: Math.round(g.querySelector('rect').getBoundingClientRect().width * 100) / 100,
    })));
  const before = await boxes();
  if (!before.length) fail(`${file}: no g.frame boxes`);
  const title = await page.evaluate(() => document.getElementById('title')?.textContent ?? null);

  // The details line while hovering the first Python frame box.
  const frames = page.locator('g.frame[data-fn]');
  let details = null;
  if (await frames.count()) {
    await frames.first().hover({ force: true });
    details = await page.evaluate(() => document.getElementById('details').textContent);
  }

  // Click the widest box above the thread roots (a Python frame: it has data-fn).
  const target = await page.evaluate(() => {
    let best = -1, bestWidth = -1;
    document.querySelectorAll('g.frame').forEach((g, i) => {
      const w = Number(g.querySelector('rect').getAttribute('width'));
      if (g.hasAttribute('data-fn') && w > bestWidth) {
        best = i;
        bestWidth = w;
      }
    });
    return best;
  });
  let clicked = null, zoomed = [], restored = null;
  if (target >= 0) {
    const box = page.locator('g.frame').nth(target);
    clicked = before[target]?.name ?? null;
    await box.locator('rect').click({ force: true });
    zoomed = await boxes();
    await page.locator('#unzoom').click();
    const after = await boxes();
    restored = after.length === before.length &&
               after.every((b, i) => Math.abs(b.width - before[i].width) < 0.01);
  }

  // Search through the control: its prompt answered with the term.
  let term = process.env.SVG_SEARCH;
  if (!term && target >= 0) {
    term = await page.locator('g.frame').nth(target).getAttribute('data-fn');
  }
  let search = null;
  if (term) {
    page.once('dialog', dialog => dialog.accept(term));
    await page.locator('#search').click();
    search = await page.evaluate(() => ({
      matched_text: document.getElementById('matched').textContent,
      highlighted: Array.from(document.querySelectorAll('g.frame rect'))
        .filter(r => r.getAttribute('fill') === 'rgb(230,0,230)').length,
    }));
    search = { term, ...search };
  }
  if (errors.length) fail(`${file}: script errors: ${errors.join('; ')}`);
  print({ title, boxes: before, details, clicked, zoomed, reset_widths_restored: restored,
          search });
} finally {
  await browser.close();
}
