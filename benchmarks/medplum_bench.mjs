// Times Medplum's C-CDA to FHIR conversion (@medplum/ccda) on one document, on request, so that a
// Python benchmark can interleave it with its own timings: read "N" on stdin, convert the
// document N times, print one line of N durations in milliseconds (text in -> FHIR Bundle out:
// XML parse included, as ccda2fhir.convert includes it). "quit" ends.
//   node medplum_bench.mjs PACKAGE_DIR DOCUMENT.xml
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const [packageDir, documentPath] = process.argv.slice(2);
// @medplum/core (which @medplum/ccda loads) refers to the WebSocket global at load time; node 20
// has none, and converting a document never opens one.
globalThis.WebSocket ??= class WebSocket {};
const require = createRequire(pathToFileURL(`${packageDir}/package.json`));
const ccda = await import(pathToFileURL(require.resolve('@medplum/ccda')).href);
const xml = readFileSync(documentPath, 'utf8');

function once() {
  const bundle = ccda.convertCcdaToFhir(ccda.convertXmlToCcda(xml));
  if (!bundle || !bundle.entry || bundle.entry.length === 0) {
    throw new Error('Medplum made an empty Bundle');
  }
}

once(); // warm up
console.log('ready');
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === 'quit') break;
  const n = parseInt(line, 10) || 1;
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    once();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  console.log(times.join(' '));
}
process.exit(0);
