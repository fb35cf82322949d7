#!/usr/bin/env bash
# Writes core's io/mla4j/build.properties (read by io.mla4j.BuildInfo: `mla4j --version`, the bench rows'
# provenance): the project version and the git commit the build came from (+ "-dirty" with uncommitted
# changes to tracked files; "unknown" outside a git checkout, e.g. from a source jar).
# usage: build-info.sh VERSION OUTFILE
set -euo pipefail
version="${1:?usage: build-info.sh VERSION OUTFILE}"; out="${2:?usage: build-info.sh VERSION OUTFILE}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
commit=unknown
if c=$(git rev-parse --short=12 HEAD 2>/dev/null); then
  commit="$c"
  git diff --quiet HEAD -- 2>/dev/null || commit="$c-dirty"
fi
mkdir -p "$(dirname "$out")"
printf 'version=%s\ncommit=%s\n' "$version" "$commit" > "$out.tmp"
# only touch the file when it changed, so the jar is not repackaged for nothing
if cmp -s "$out.tmp" "$out"; then rm -f "$out.tmp"; else mv "$out.tmp" "$out"; fi
