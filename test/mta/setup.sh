#!/usr/bin/env bash
# Prepares the procmail and maildrop recipe test (test/mta/recipes.test.ts): installs
# Debian's procmail and maildrop packages when they are missing and this is possible
# (root, apt). Never fails: without them the test is skipped with a notice.
# Also zsh, for the syntax check of `m4me completion zsh` (test/e2e/docs.test.ts).
set -u
note() { echo "test/mta/setup.sh: $*" >&2; }
missing=()
command -v procmail >/dev/null 2>&1 || missing+=(procmail)
command -v maildrop >/dev/null 2>&1 || missing+=(maildrop)
command -v zsh >/dev/null 2>&1 || missing+=(zsh)
if [ ${#missing[@]} -eq 0 ]; then note "procmail, maildrop and zsh are installed"; exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  note "${missing[*]} missing and no root/apt-get: the recipe test will skip them"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
LOG=$(mktemp /tmp/m4me-mta-setup.XXXXXX.log)
install() { timeout 600 apt-get install -y -q --no-install-recommends "${missing[@]}"; }
note "installing ${missing[*]} with apt-get"
if ! install >"$LOG" 2>&1; then
  if ! { timeout 600 apt-get update -q && install; } >>"$LOG" 2>&1; then
    note "could not install ${missing[*]} (log: $LOG): the recipe test will skip them"
    exit 0
  fi
fi
rm -f "$LOG"
exit 0
