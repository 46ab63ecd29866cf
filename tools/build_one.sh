#!/usr/bin/env bash
# Build the site with only the intro and the given chapter(s), strictly, into
# _build/one/<first-slug>/_build/html. For working on one chapter without disturbing the
# main build (several people / helpers can run it at once).
#   tools/build_one.sh 01-angle-distribution [more slugs]
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 NN-slug [NN-slug ...]"; exit 2; }
out="_build/one/$1"
mkdir -p "$out"
toc="$out/_toc.yml"
{ echo "format: jb-book"; echo "root: book/intro"; echo "chapters:"; } > "$toc"
for slug in "$@"; do
  f=$(ls book/*/"$slug".md 2>/dev/null | head -1)
  [ -n "$f" ] || { echo "no chapter book/*/$slug.md"; exit 2; }
  echo "  - file: ${f%.md}" >> "$toc"
done
printf "  - file: book/api\n  - file: book/dashboard\n  - file: book/status\n  - file: book/glossary\n  - file: book/bibliography\n" >> "$toc"
PATH="$PWD/.venv/bin:$PATH" KEXUE_SCALE="${KEXUE_SCALE:-ci}" \
  .venv/bin/jupyter-book build -W --keep-going --all --toc "$toc" --path-output "$out" .
echo "built: $out/_build/html/book/"
