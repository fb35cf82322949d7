#!/usr/bin/env bash
# Runs the DeepSeek-V3-shaped engine example (examples/engine/README.md), e.g.
#   examples/run.sh --backend cpu --steps 16 --batch 1 --heads 16 --context 4096
# Builds the example (and what it needs) first when its jar is missing or older than the sources.
# Extra JVM options: MLA4J_JAVA_OPTS (e.g. -XX:AOTCache=FILE).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$root/scripts/find-jdk.sh"
jar="$here/engine/target/mla4j-example-engine.jar"
if [ ! -f "$jar" ] || [ -n "$(find "$here/engine/src/main" "$root/java-bindings/core/src/main" \
    "$root/java-bindings/cuda/src/main" \
    -newer "$jar" -print -quit)" ]; then
  echo "examples/run.sh: building examples/engine (mvn package -pl examples/engine -am, no tests)" >&2
  (cd "$root" && mvn -B -ntp -q package -pl examples/engine -am -DskipTests -Dmla4j.skipNativeTests=true)
fi
# shellcheck disable=SC2086 # MLA4J_JAVA_OPTS is a list of options
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED ${MLA4J_JAVA_OPTS:-} \
  -cp "$jar:$here/engine/target/lib/*" io.mla4j.example.engine.Main "$@"
