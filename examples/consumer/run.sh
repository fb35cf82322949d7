#!/usr/bin/env bash
# CI's consumer check (scripts/test.sh runs it after `mvn verify`): installs the artifacts the reactor just
# built into a throwaway local repository, builds this project against them offline through the BOM, and
# runs it on the class path and on the module path. It proves the coordinates, the BOM, the module
# descriptors and the documented JVM flags, as a new user would meet them.
# The throwaway repository is seeded from ~/.m2 (jars hard-linked, metadata copied): offline, nothing
# downloaded again, and nothing of this build installed into the user's own repository.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/scripts/find-jdk.sh"
src="${MLA4J_SEED_REPO:-$HOME/.m2/repository}"
repo="$here/target/m2"
t0=$(date +%s)
rm -rf "$here/target"
mkdir -p "$repo"
cp -al "$src/." "$repo/" 2>/dev/null || cp -a "$src/." "$repo/"
# Maven may rewrite metadata in place: only jars stay hard links, the rest become copies
find "$repo" -type f ! -name '*.jar' -delete
(cd "$src" && find . -type f ! -name '*.jar' -print0 | tar --null -cf - -T -) | (cd "$repo" && tar -xf -)
rm -rf "$repo/io/mla4j"

mvn_() { mvn -B -ntp -q -o -Dstyle.color=never -Dmaven.repo.local="$repo" "$@"; }
jar_of() { # the main jar a module built (not -sources / -javadoc)
  ls "$root/$1"/target/*.jar | grep -v -e '-sources\.jar$' -e '-javadoc\.jar$' -e '/original-' | head -1
}
version=$(sed -n 's:^  <version>\(.*\)</version>.*:\1:p' "$root/pom.xml" | head -1)
# "Install" = the local repository's layout, what install:install-file writes (a locally installed artifact
# needs no metadata), without one Maven start per artifact (~9 s each on a loaded 2-core CI machine).
put() { # artifactId pom [jar]
  local d="$repo/io/mla4j/$1/$version"
  mkdir -p "$d"
  cp "$2" "$d/$1-$version.pom"
  if [ -n "${3:-}" ]; then cp "$3" "$d/$1-$version.jar"; fi
}
put mla4j-parent "$root/pom.xml"
put mla4j-bom "$root/bom/pom.xml"
put mla4j-core "$root/java-bindings/core/pom.xml" "$(jar_of java-bindings/core)"
put mla4j-kernels-cuda "$root/kernels-cuda/pom.xml" "$(jar_of kernels-cuda)"
put mla4j-cuda "$root/java-bindings/cuda/pom.xml" "$(jar_of java-bindings/cuda)"

cd "$here"
mvn_ package -Dmla4j.version="$version"
jar="$here/target/mla4j-consumer-1.0.jar"
out_cp=$("$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -cp "$jar:$here/target/lib/*" com.example.consumer.Main)
echo "$out_cp"
# module path: jdk.incubator.vector comes with io.mla4j's `requires`; the cuda backend is bound as a service
# provider; JCuda is the automatic module "jcuda" and needs native access of its own
out_mp=$("$JAVA_HOME/bin/java" --enable-native-access=io.mla4j.cuda,jcuda \
  -p "$jar:$here/target/lib" -m com.example.consumer/com.example.consumer.Main)
echo "$out_mp"
for o in "$out_cp" "$out_mp"; do
  case "$o" in *"backends here: "*cuda*cpu*) ;; *) echo "consumer: FAILED (cuda and cpu backends not both found)" >&2; exit 1 ;; esac
done
case "$out_cp" in *"on the class path"*) ;; *) echo "consumer: FAILED (class-path run)" >&2; exit 1 ;; esac
case "$out_mp" in *"on the module path"*) ;; *) echo "consumer: FAILED (module-path run)" >&2; exit 1 ;; esac
echo "consumer: OK, class path and module path ($(( $(date +%s) - t0 )) s)"
