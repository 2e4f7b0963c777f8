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
# A build made by an older version of this script (other patches) is
# rebuilt: its stamp is this script's checksum.
stamp=$(sha256sum "$here/build.sh" | cut -d' ' -f1)
if [ -x "$out/imaptest" ] && [ -f "$out/tests/fetch" ] &&
   [ "$(cat "$out/.build-stamp" 2>/dev/null)" = "$stamp" ]; then
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
# imaptest bug: when secs= runs out during a checkpoint, client_eat_first_plan
# sends LOGOUT in place of the planned checkpoint CHECK but leaves CHECK in
# the plan; when the last LOGOUT reply ends the checkpoint, checkpoint_neg
# asks every idle client for more commands, including those that sent
# LOGOUT (already back in non-authenticated state with a stale plan), and
# client_update_plan aborts with "assertion failed: (client->plan_size == 0)".
# Skip clients that sent LOGOUT there, as imap_client_cmd_reply_finish does.
# Only the shutdown path changes: no check is skipped.
sed -i 's/^\t\t    client->client.state != STATE_BANNER) {$/\t\t    client->client.state != STATE_BANNER \&\&\n\t\t    client->client.state != STATE_LOGOUT) {/' \
  src/checkpoint.c
grep -q 'client->client.state != STATE_LOGOUT) {' src/checkpoint.c
# random_msg_size= makes messages of random octets 0-255, NUL included; a
# NUL is not allowed in an IMAP literal (RFC 3501 9: CHAR8 is %x01-ff; RFC
# 3516 4.2 gives binary content to literal8 only), so a strict server
# answers such an APPEND with BAD (Dovecot stores it anyway). Draw octets
# from 1-255 instead.
sed -i 's/^\t\tbuf\[i\] = i_rand_limit(256);$/\t\tbuf[i] = 1 + i_rand_limit(255);/' \
  src/mailbox-source-random.c
grep -q 'buf\[i\] = 1 + i_rand_limit(255);' src/mailbox-source-random.c
# imaptest bug: view->messages (per-message metadata) grows lazily, behind
# the message count (array_idx_get_space where a message is first
# touched), but seq_range_flags_ref indexes it with array_idx_modifiable,
# which asserts the entry exists. In checkpoint mode, client_dirty_all_flags
# passes it every sequence up to EXISTS, so imaptest aborts with "array.c:
# line 10 (array_idx_modifiable_i): assertion failed" as soon as a message
# arrived that this client never touched (also against Dovecot). Grow it
# there the same way (new entries are zero, as everywhere else).
sed -i '/^static void$/,/^}$/{/^seq_range_flags_ref(/,/^}$/s/metadata = array_idx_modifiable(&client->view->messages,/metadata = array_idx_get_space(\&client->view->messages,/}' \
  src/client-state.c
sed -n '/^seq_range_flags_ref(/,/^}$/p' src/client-state.c | grep -q 'array_idx_get_space('
if sed -n '/^seq_range_flags_ref(/,/^}$/p' src/client-state.c | grep -q 'array_idx_modifiable('; then
  exit 1
fi
# imaptest bug: a SELECT with QRESYNC replaces the view by the offline cache
# saved at an earlier logout (when * OK [UIDVALIDITY] arrives) and holds the
# EXISTS count back until the tagged OK. A message that arrived after the
# cache was saved has a MODSEQ above the cached one, so RFC 7162 3.2.5.1
# has the server report it with an untagged FETCH (Dovecot's select_qresync
# searches 1:* CHANGEDSINCE as well); its number is past the cached count,
# and mailbox_state_handle_fetch aborts with "array.c: line 10
# (array_idx_modifiable_i): assertion failed". Against Dovecot the path is
# rarely taken: the cache is saved only when every UID of the view is
# known. Grow the view to that number, within the EXISTS count the server
# gave, as the held-back count would at the tagged OK.
sed -i 's/^                if (num > array_count(&view->uidmap) &&$/\t\tif (client->qresync_select_cache != NULL \&\&\n\t\t    strcmp(str, "FETCH") == 0 \&\&\n\t\t    num > array_count(\&view->uidmap) \&\&\n\t\t    num <= client->qresync_pending_exists)\n\t\t\timap_client_exists(client, num);\n\t\tif (num > array_count(\&view->uidmap) \&\&/' \
  src/imap-client.c
grep -q 'num <= client->qresync_pending_exists)' src/imap-client.c
./autogen.sh >/dev/null 2>&1
./configure --with-dovecot=/usr/lib/dovecot >/dev/null
make -j"$(nproc)" LDFLAGS="-Wl,-rpath,/usr/lib/dovecot" >/dev/null
rm -rf "$out/tests"
cp -r src/tests "$out/tests"
# tests/urlauth2 lacks the "messages: 2" header it needs in this version.
grep -q '^messages:' "$out/tests/urlauth2" || sed -i '1a messages: 2' "$out/tests/urlauth2"
cp src/imaptest "$out/imaptest"
echo "$stamp" > "$out/.build-stamp"
echo "built $out/imaptest"
