#!/bin/sh
# Refresh the vendored copy of MathJax 3 in _vendor/mathjax (committed, so that a fresh
# machine needs no npm): the built site then typesets math with no network at all.
# Needs npm and the npm registry. Keeps only what tex-mml-chtml.js loads (~7 MB of 24 MB).
set -eu
MJ_VERSION=${MJ_VERSION:-3.2.2}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
(cd "$tmp" && npm pack --silent "mathjax@$MJ_VERSION" >/dev/null && tar xzf "mathjax-$MJ_VERSION.tgz")
src="$tmp/package/es5"
dst=_vendor/mathjax
rm -rf "$dst"
mkdir -p "$dst/output/chtml" "$dst/input/tex"
cp "$tmp/package/LICENSE" "$src/tex-mml-chtml.js" "$dst/"
cp -r "$src/output/chtml/fonts" "$dst/output/chtml/"      # CHTML web fonts
cp -r "$src/input/tex/extensions" "$dst/input/tex/"       # autoloaded TeX packages (\cancel, \boldsymbol, ...)
cp -r "$src/ui" "$src/a11y" "$src/sre" "$dst/"            # lazy-loaded menu / accessibility
echo "$MJ_VERSION" > "$dst/VERSION"
rm -rf "$tmp"
echo "MathJax $MJ_VERSION -> $dst ($(du -sh "$dst" | cut -f1))"
