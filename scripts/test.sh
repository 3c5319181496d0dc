#!/usr/bin/env bash
# The project's test command, as CI runs it (`.ci/run`) and as developers should:
#   scripts/test.sh
# Steps: system packages (as root; VIPD_SKIP_DEPS=1 skips), cargo fmt --check, clippy and
# rustdoc with warnings denied, then every test of the workspace: unit, unprivileged
# integration, and the netns end-to-end tests, which need root (without it they print
# SKIPPED, or fail if CI=true).
# Every step runs even after a failure, so one run shows every problem; the exit status is
# non-zero if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."

# Under sudo, root's PATH (sudo's secure_path) usually lacks rustup's ~/.cargo/bin and root
# has no toolchain of its own: use the invoking user's, and give back to that user, on exit,
# whatever root wrote under target/ and their cargo home (so their own builds keep working).
if ! command -v cargo >/dev/null && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
  user_home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
  if [ -x "$user_home/.cargo/bin/cargo" ]; then
    echo "test.sh: under sudo: using $SUDO_USER's Rust toolchain ($user_home/.cargo/bin)"
    export PATH="$user_home/.cargo/bin:$PATH" CARGO_HOME="$user_home/.cargo"
    export RUSTUP_HOME="$user_home/.rustup"
    give_back() {
      find "${CARGO_TARGET_DIR:-target}" "$CARGO_HOME" -xdev -user 0 \
        -exec chown -h "$SUDO_UID:$SUDO_GID" {} + 2>/dev/null || true
    }
  fi
fi
command -v cargo >/dev/null || {
  echo "test.sh: cargo not found in PATH; install Rust (https://rustup.rs) or add ~/.cargo/bin to PATH" >&2
  exit 1
}

results=()
failed=0
log=$(mktemp -t vipd-test.XXXXXX)
trap 'rm -f "$log"; if declare -F give_back >/dev/null; then give_back; fi' EXIT

step() {
  local name=$1; shift
  local start=$SECONDS
  printf '\n==> %s\n' "$name"
  if "$@"; then
    results+=("PASS  $name ($((SECONDS - start)) s)")
  else
    results+=("FAIL  $name ($((SECONDS - start)) s)")
    failed=1
  fi
}

if [ "${VIPD_SKIP_DEPS:-0}" = 1 ]; then
  results+=("SKIP  install-deps (VIPD_SKIP_DEPS=1)")
elif [ "$(id -u)" != 0 ]; then
  results+=("SKIP  install-deps (not root; the netns tests will skip too)")
else
  step "install-deps" scripts/install-deps.sh
fi

# A fresh toolchain may come without rustfmt/clippy.
for comp in rustfmt clippy; do
  sub=${comp/rustfmt/fmt}
  if ! cargo "$sub" --version >/dev/null 2>&1 && command -v rustup >/dev/null; then
    rustup component add "$comp"
  fi
done

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy -D warnings" cargo clippy --workspace --all-targets -- -D warnings
# Broken intra-doc links are documentation that says nothing; rustdoc reports them.
step "cargo doc -D warnings" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
# --no-fail-fast: a failing test binary must not hide the results of the others. The
# timeout leaves room in CI's 90 minutes for this summary to be printed.
step "cargo test --workspace" \
  bash -o pipefail -c 'timeout -k 30 "${VIPD_TEST_TIMEOUT:-4800}" cargo test --workspace --no-fail-fast </dev/null 2>&1 | tee "$1"' _ "$log"

skipped=$(grep -c 'SKIPPED' "$log" || true)
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
failed_tests=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s += $1} END {print s + 0}')

printf '\n==================== summary ====================\n'
printf '%s\n' "${results[@]}"
printf 'tests: %s passed, %s failed\n' "$passed" "$failed_tests"
if [ "$skipped" != 0 ]; then
  printf 'WARNING: %s privileged tests were SKIPPED (not root): end-to-end behaviour is unverified\n' "$skipped"
fi
if [ $failed = 0 ]; then echo "RESULT: OK"; else echo "RESULT: FAILED"; fi
exit $failed
