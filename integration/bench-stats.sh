# Shared figures of the benchmarks (sourced): medians and ranges of repeated runs, rates, CPU steal.
# median/range take the values as arguments; rates prints one rate per line.

# CPU steal and all CPU time so far (jiffies): "steal total".
steal() { awk '/^cpu / {print $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
# The steal since an earlier `steal` reading ("STEAL TOTAL"), as a sentence.
steal_since() {
  local now_steal now_all
  read -r now_steal now_all < <(steal)
  echo "CPU steal during the run: $(echo "100 * ($now_steal - $1) / ($now_all - $2)" | bc -l | xargs printf '%.1f')% of CPU time ($(nproc) cores)"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
range() { printf '%s\n' "$@" | sort -g | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }
rate() { echo "$1 / $2" | bc -l | xargs printf '%.0f'; }
# COUNT SECONDS... -> COUNT / SECONDS for each, one per line.
rates() { local count=$1; shift; for t in "$@"; do rate "$count" "$t"; echo; done; }
