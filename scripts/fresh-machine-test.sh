#!/usr/bin/env bash
# Runs the test command as a fresh machine would: no system PostgreSQL server
# (the npm server binaries instead), none of the optional Debian tools (age,
# tmux, shellcheck, busybox, script, systemd-analyze, qemu-aarch64) and CI unset. Every test must then pass or
# be reported as skipped with its install hint; none may fail.
#   scripts/fresh-machine-test.sh [bun test arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."

hidden="age age-keygen tmux shellcheck busybox script systemd-analyze qemu-aarch64"
shim=$(mktemp -d)
chmod 755 "$shim" # the test server runs as another user when the tests run as root
trap 'rm -rf "$shim"' EXIT
# A PATH holding every command of this machine except the hidden ones.
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    name=${f##*/}
    if [ ! -x "$f" ] || [ -e "$shim/$name" ]; then continue; fi
    case " $hidden " in *" $name "*) continue ;; esac
    ln -s "$f" "$shim/$name"
  done
done

for t in $hidden; do
  if PATH="$shim" command -v "$t" >/dev/null 2>&1; then echo "still visible: $t" >&2; exit 1; fi
done

out=$(mktemp)
set +e
env -u CI PATH="$shim" PGSHIP_TEST_NO_SYSTEM_PG=1 node_modules/.bin/bun test --timeout 60000 "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
echo
echo "fresh machine: $(grep -cE '^skipping the tests that need' "$out" || true) missing tools reported:"
grep -E '^skipping the tests that need' "$out" | sort -u || true
grep -E '^ *[0-9]+ (pass|skip|fail)$' "$out" | tail -n 3
rm -f "$out"
exit "$status"
