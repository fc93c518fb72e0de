#!/usr/bin/env bash
# The package as users receive it (issue 13). Packs the tarball (npm pack runs `prepare`, so dist/
# is built fresh), checks what it holds, lints it with publint and arethetypeswrong, installs it
# into a new plain-JavaScript project and uses it there with plain node: through import, through
# require, through its bin, and from TypeScript with moduleResolution nodenext.
#   bash test/package/check.sh          (npm run test:package)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/framewire-package.XXXXXX")"
trap 'rm -rf "$work"' EXIT
fail() { echo "package check FAILED: $*" >&2; exit 1; }

cd "$root"
version="$(node -p "require('./package.json').version")"
echo "-- npm pack (prepare builds dist/)"
tarball="$work/$(npm pack --silent --pack-destination "$work" | tail -n 1)"
[ -f "$tarball" ] || fail "npm pack produced no tarball"
files="$(tar -tzf "$tarball")"
echo "tarball: $(basename "$tarball"), $(wc -c <"$tarball") bytes, $(grep -c . <<<"$files") files"
# What users need only: dist (without the declaration maps, whose sources are not shipped), the
# spec, README, ARCHITECTURE.md (README links to it) and LICENSE.
if { grep -vE '^package/(dist/|spec/|README\.md$|ARCHITECTURE\.md$|LICENSE$|package\.json$)' <<<"$files"; grep -E '\.d\.ts\.map$|\.tsbuildinfo$|/generate\.ts$' <<<"$files"; } | grep .; then
  fail "the tarball holds more than dist, spec, README, ARCHITECTURE.md and LICENSE (above)"
fi
for must in package/dist/index.js package/dist/index.d.ts package/dist/cli/bin.js package/LICENSE package/README.md package/ARCHITECTURE.md package/spec/PROTOCOL.md package/spec/vectors/valid.json; do
  grep -qx "$must" <<<"$files" || fail "the tarball lacks $must"
done

echo "-- publint"
npx --no-install publint run --strict "$tarball"
echo "-- arethetypeswrong"
# esm-only: framewire is an ES module package. CommonJS callers load it with require() on node
# >= 20.19 (checked below at run time and by the .cts consumer); attw's node16-CJS mode predates that.
npx --no-install attw --profile esm-only "$tarball"

echo "-- install into a new plain-JavaScript project"
app="$work/app"
mkdir "$app"
cp -r "$here/smoke" "$here/consumer" "$app/"
cat >"$app/package.json" <<JSON
{ "name": "framewire-package-check", "private": true, "type": "module" }
JSON
(cd "$app" && npm install --no-audit --no-fund --prefer-offline "$tarball" >/dev/null)

cd "$app"
echo "-- npm ls --omit=dev"
npm ls --omit=dev --all
if npm ls --omit=dev --all --parseable | grep -E '/node_modules/(typescript|tsx|esbuild|@esbuild|@types|vitest|ts-node)(/|$)'; then
  fail "installing framewire brings TypeScript tooling (above)"
fi

echo "-- import('framewire')"
kind="$(node -e "import('framewire').then(m => console.log(typeof m.connect))")"
[ "$kind" = function ] || fail "import('framewire') gave connect: $kind"
echo "typeof connect: $kind"

echo "-- smoke: ESM, then CommonJS"
node smoke/esm.mjs
node smoke/cjs.cjs

echo "-- TypeScript consumer (moduleResolution nodenext, shipped declarations, skipLibCheck off)"
"$root/node_modules/.bin/tsc" -p consumer --typeRoots "$root/node_modules/@types"
echo "compiled"

echo "-- the bin"
printed="$(npx --no-install framewire --version)"
[ "$printed" = "$version" ] || fail "framewire --version printed '$printed', expected $version"
# Reported, not asserted: a timing gate would flake on a loaded CI machine (target: median < 0.2 s).
node --input-type=module -e "
import { spawnSync } from 'node:child_process';
const bin = 'node_modules/.bin/framewire';
const times = [];
for (let i = 0; i < 10; i++) {
  const t = process.hrtime.bigint();
  if (spawnSync(bin, ['--version']).status !== 0) throw new Error('framewire --version failed');
  times.push(Number(process.hrtime.bigint() - t) / 1e6);
}
times.sort((a, b) => a - b);
const base = [];
for (let i = 0; i < 10; i++) { const t = process.hrtime.bigint(); spawnSync(process.execPath, ['-e', '0']); base.push(Number(process.hrtime.bigint() - t) / 1e6); }
base.sort((a, b) => a - b);
console.log('framewire --version: median of 10 ' + ((times[4] + times[5]) / 2).toFixed(0) + ' ms (node -e 0: ' + ((base[4] + base[5]) / 2).toFixed(0) + ' ms)');
"
echo "-- framewire demo from the package (compiled CLI, its server as a child process)"
npx --no-install framewire demo --size 8MiB --chunk-size 1MiB --events 300 | tail -n 4
echo "package check passed"
