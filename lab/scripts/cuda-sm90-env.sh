# Sourced by the device-side sm90 scripts: the repository root as working directory, where the builds are
# (B=.carry/sm90, from lab/scripts/cuda-sm90-build.sh), where outputs go ($OUT, default /tmp/sm90-out), and the
# harness's split overhead (SM90_F, default 1 as the Java backend uses for one row tile).
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT=${OUT:-/tmp/sm90-out}
mkdir -p "$OUT"
B=.carry/sm90
export SM90_F=${SM90_F:-1}
