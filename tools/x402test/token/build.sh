#!/usr/bin/env bash
# build.sh compiles Token.sol with a pinned solcjs from the npm registry and writes
# Token.bin (creation bytecode), Token.runtime.bin (deployed code) and Token.abi.json.
# The outputs are committed and embedded by Go; CI never needs solc.
#
#   token/build.sh          rebuild the three files in place
#   token/build.sh --check  rebuild into a temp dir and fail if the committed files differ
#
# solc is installed into a temporary directory outside the repository (node_modules never
# goes into the repo). Set SOLC_DIR to an existing directory with solc@$SOLC_VERSION
# installed to skip the npm install.
set -euo pipefail

SOLC_VERSION=0.8.37
SOLC_LONG="0.8.37+commit.f401782d.Emscripten.clang"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
check=0
if [[ "${1:-}" == "--check" ]]; then
	check=1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

solc_dir="${SOLC_DIR:-}"
if [[ -z "$solc_dir" ]]; then
	solc_dir="$tmp/solc"
	mkdir -p "$solc_dir"
	(cd "$solc_dir" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent "solc@$SOLC_VERSION" >/dev/null)
fi

out="$here"
if [[ "$check" == 1 ]]; then
	out="$tmp/out"
	mkdir -p "$out"
fi

NODE_PATH="$solc_dir/node_modules" SOLC_LONG="$SOLC_LONG" SRC="$here/Token.sol" OUT="$out" node <<'JS'
const fs = require("fs");
const solc = require("solc");
if (solc.version() !== process.env.SOLC_LONG) {
  console.error(`solc ${solc.version()}, want ${process.env.SOLC_LONG}`);
  process.exit(1);
}
const input = {
  language: "Solidity",
  sources: { "Token.sol": { content: fs.readFileSync(process.env.SRC, "utf8") } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "Token.sol": { Token: ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
let failed = false;
for (const e of output.errors || []) {
  console.error(e.formattedMessage);
  if (e.severity === "error") failed = true;
}
if (failed) process.exit(1);
const c = output.contracts["Token.sol"].Token;
const out = process.env.OUT;
fs.writeFileSync(`${out}/Token.bin`, c.evm.bytecode.object + "\n");
fs.writeFileSync(`${out}/Token.runtime.bin`, c.evm.deployedBytecode.object + "\n");
fs.writeFileSync(`${out}/Token.abi.json`, JSON.stringify(c.abi, null, 2) + "\n");
JS

if [[ "$check" == 1 ]]; then
	for f in Token.bin Token.runtime.bin Token.abi.json; do
		if ! cmp -s "$out/$f" "$here/$f"; then
			echo "build.sh: $f differs from a fresh build" >&2
			exit 1
		fi
	done
	echo "build.sh: Token.bin, Token.runtime.bin and Token.abi.json match solc $SOLC_LONG"
fi
