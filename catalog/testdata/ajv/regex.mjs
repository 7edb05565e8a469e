// regex.mjs compiles regular expressions as JavaScript JSON Schema validators do
// (new RegExp(pattern, "u")) and matches them against probe strings. It reads one
// case per line on stdin ({"id": ..., "pattern": ..., "probes": [...]}) and writes
// one line per case: {"id": ..., "matches": [true, false, ...]} or
// {"id": ..., "error": ...}.
import { createInterface } from "node:readline";

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line === "") continue;
  const { id, pattern, probes } = JSON.parse(line);
  let out;
  try {
    const re = new RegExp(pattern, "u");
    out = { id, matches: probes.map((s) => re.test(s)) };
  } catch (e) {
    out = { id, error: String((e && e.message) || e) };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}
