# Fails when a kernel in ptxas's -v report spills more than spill-allowlist.txt allows.
# usage: awk -f check-spills.awk spill-allowlist.txt ptxas-report.txt
FNR == NR { if ($0 !~ /^#/ && NF >= 2) allow[$1] = $2; next }
/Compiling entry function/ { match($0, /'[^']+'/); name = substr($0, RSTART + 1, RLENGTH - 2); arch = $NF }
/bytes spill stores/ {
  for (i = 1; i <= NF; i++) if ($(i) == "spill" && $(i + 1) == "stores,") stores = $(i - 2)
  if (stores + 0 > 0) {
    lim = (name in allow) ? allow[name] : 0
    if (stores + 0 > lim + 0) { printf "kernels-cuda: %s (%s) spills %d bytes, allowed %d (spill-allowlist.txt)\n", name, arch, stores, lim; bad = 1 }
    else printf "kernels-cuda: note: %s (%s) spills %d bytes (allowed: see spill-allowlist.txt)\n", name, arch, stores
  }
}
END { exit bad }
