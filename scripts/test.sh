#!/usr/bin/env bash
# The whole test suite, from a fresh machine: install the outside tools the
# end-to-end tests drive, build every binary, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages of the outside tools (real clients and protocol peers).
packages=(python3 curl openssl isync litmus rclone sip-tester)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}"
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq "${missing[@]}"
  fi
fi

cargo build --workspace --locked
cargo test --workspace --locked
