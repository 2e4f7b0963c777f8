#!/usr/bin/env bash
# Builds Dovecot's imaptest (the IMAP compliance and stress tester, MIT
# licence: COPYING.MIT) from the source archive beside this script, against
# Debian's dovecot-dev, into OUTDIR/imaptest and OUTDIR/tests/ (its 71
# scripted test groups). Does nothing when OUTDIR/imaptest already exists.
#   tools/imaptest/build.sh OUTDIR        # about 2 minutes on 2 cores
set -euo pipefail
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
version=imaptest-release-2.3.21
if [ -x "$out/imaptest" ] && [ -f "$out/tests/fetch" ]; then
  exit 0
fi
pkgs=(dovecot-core dovecot-dev build-essential autoconf automake libtool pkg-config)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$here/$version.tar.gz" -C "$work"
cd "$work/$version"
# Debian's dovecot-dev carries a backport that gave imap_parser_create() a
# fourth argument; imaptest 2.3.21 passes three. NULL keeps the old behaviour.
sed -i 's/imap_parser_create(\(.*\), (size_t)-1);/imap_parser_create(\1, (size_t)-1, NULL);/' \
  src/commands.c src/imap-client.c src/test-parser.c
./autogen.sh >/dev/null 2>&1
./configure --with-dovecot=/usr/lib/dovecot >/dev/null
make -j"$(nproc)" LDFLAGS="-Wl,-rpath,/usr/lib/dovecot" >/dev/null
rm -rf "$out/tests"
cp -r src/tests "$out/tests"
# tests/urlauth2 lacks the "messages: 2" header it needs in this version.
grep -q '^messages:' "$out/tests/urlauth2" || sed -i '1a messages: 2' "$out/tests/urlauth2"
cp src/imaptest "$out/imaptest"
echo "built $out/imaptest"
