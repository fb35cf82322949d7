# Sourced by mla4j's scripts: sets JAVA_HOME to a JDK >= 25 (the class files are Java 25: README "Requirements") or exits
# with a clear message.
# Order: $JAVA_HOME, then `java` on the PATH, then every JDK under /usr/lib/jvm (newest first).
# usage: source scripts/find-jdk.sh
mla4j_java_major() { # prints the feature version of the JDK at $1, or nothing
  local rel="$1/release" v
  if [ -f "$rel" ]; then v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$rel"); fi
  if [ -z "$v" ] && [ -x "$1/bin/java" ]; then
    v=$("$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  fi
  echo "$v"
}
mla4j_find_jdk() {
  local c v cands=()
  [ -n "${JAVA_HOME:-}" ] && cands+=("$JAVA_HOME")
  if command -v java >/dev/null 2>&1; then cands+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"); fi
  for c in $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do cands+=("${c%/}"); done
  for c in "${cands[@]}"; do
    [ -x "$c/bin/javac" ] || continue
    v=$(mla4j_java_major "$c")
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then export JAVA_HOME="$c"; export PATH="$JAVA_HOME/bin:$PATH"; return 0; fi
  done
  echo "mla4j: no JDK 25 or newer found (looked at \$JAVA_HOME, java on the PATH and /usr/lib/jvm/*)." >&2
  echo "mla4j: install one (e.g. Temurin 25) and set JAVA_HOME to it." >&2
  exit 1
}
mla4j_find_jdk
# Maven 3.8 uses sun.misc.Unsafe through Guava; on JDK 24+ that prints a warning per build. Allow it quietly.
if [ "$(mla4j_java_major "$JAVA_HOME")" -ge 24 ]; then
  export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
fi
if ! command -v mvn >/dev/null 2>&1; then
  echo "mla4j: Apache Maven (mvn) is needed to build; install it (e.g. apt-get install maven)." >&2
  exit 1
fi
