// check.mjs compiles JSON Schemas with Ajv's JSON Schema 2020-12 validator, as
// JavaScript MCP hosts do: regular expressions with the "u" (unicode) flag,
// unknown formats and keywords allowed (strict mode off). It reads one schema per
// line on stdin ({"id": ..., "schema": ...}) and writes one line per schema that
// does not compile: {"id": ..., "error": ...}; then a last line {"checked": N}.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const require = createRequire(process.env.TOLL_AJV_DIR + "/");
const Ajv2020 = require("ajv/dist/2020").default;

const ajv = new Ajv2020({ strict: false, unicodeRegExp: true, allErrors: false, code: { optimize: false } });
let checked = 0;
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line === "") continue;
  const { id, schema } = JSON.parse(line);
  checked++;
  try {
    ajv.compile(schema);
  } catch (e) {
    process.stdout.write(JSON.stringify({ id, error: String(e && e.message || e) }) + "\n");
  }
  ajv.removeSchema();
}
process.stdout.write(JSON.stringify({ checked }) + "\n");
