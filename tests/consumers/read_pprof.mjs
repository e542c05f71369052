#!/usr/bin/env node
// Decodes a gzipped pprof profile with pprof-format's own decoder (Datadog's pure JavaScript
// implementation of profile.proto) and prints what it found:
//   {"sample_types": [{"type", "unit"}...], "period_type": {...}, "period": N,
//    "samples": total of value[0], "leaf_counts": {function: value[0] where it is the leaf},
//    "functions": [names, in function table order], "roots": {outermost function: value[0]},
//    "threads": {"thread" label: value[0]}}
// Exits 1 with a message when the file does not decode, or a sample names a location, function
// or string that is not there.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

import { fail, fileArgument, print, requirePackage } from './consumers.mjs';

const file = fileArgument('read_pprof.mjs FILE.pb.gz');
const { Profile } = requirePackage('pprof-format');

let profile;
try {
  profile = Profile.decode(gunzipSync(readFileSync(file)));
} catch (e) {
  fail(`${file}: not a gzipped pprof profile: ${e.message}`);
}

const strings = profile.stringTable.strings;
function string(index) {
  const s = strings[Number(index)];
  if (s === undefined) fail(`string index ${index} out of range (${strings.length} strings)`);
  return s;
}
if (strings[0] !== '') fail(`string_table[0] is ${JSON.stringify(strings[0])}, not ""`);

const functions = new Map(profile.function.map(f => [Number(f.id), f]));
const locations = new Map(profile.location.map(l => [Number(l.id), l]));

// A location's function name: the first Line's (the innermost, for inlined frames).
function functionName(locationId) {
  const location = locations.get(Number(locationId));
  if (!location) fail(`sample names location ${locationId}, which is not in the profile`);
  if (!location.line.length) fail(`location ${locationId} has no line`);
  const f = functions.get(Number(location.line[0].functionId));
  if (!f) fail(`location ${locationId} names function ${location.line[0].functionId}, not there`);
  return string(f.name);
}

function add(counts, key, value) {
  counts[key] = (counts[key] || 0) + value;
}

let samples = 0;
const leafCounts = {}, roots = {}, threads = {};
for (const sample of profile.sample) {
  if (!sample.value.length) fail('a sample without values');
  if (!sample.locationId.length) fail('a sample without locations');
  const count = Number(sample.value[0]);
  samples += count;
  add(leafCounts, functionName(sample.locationId[0]), count);
  add(roots, functionName(sample.locationId[sample.locationId.length - 1]), count);
  for (const label of sample.label) {
    if (string(label.key) === 'thread') add(threads, string(label.str), count);
  }
}

const valueType = v => ({ type: string(v.type), unit: string(v.unit) });
print({
  sample_types: profile.sampleType.map(valueType),
  period_type: profile.periodType ? valueType(profile.periodType) : null,
  period: Number(profile.period),
  samples,
  leaf_counts: leafCounts,
  functions: profile.function.map(f => string(f.name)),
  roots,
  threads,
});
