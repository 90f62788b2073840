#!/usr/bin/env bash
# Prepares the Postfix end-to-end test (test/postfix/postfix.test.ts): installs
# Debian's postfix package when it is missing and this is possible (root, apt).
# It configures nothing and starts nothing: the test runs its own Postfix
# instance from a private configuration and queue folder, and stops it.
#
# Never fails: when postfix cannot be installed it says so, and the test is
# skipped with a notice. Set M4ME_SKIP_POSTFIX=1 to skip the installation.
set -u

note() { echo "test/postfix/setup.sh: $*" >&2; }

if [ "${M4ME_SKIP_POSTFIX:-}" = 1 ]; then
  note "M4ME_SKIP_POSTFIX=1: not installing postfix (the Postfix test will be skipped)"
  exit 0
fi
if [ -x /usr/sbin/postfix ] && [ -x /usr/sbin/sendmail ] && [ -x /usr/sbin/postqueue ]; then
  note "postfix is installed ($(/usr/sbin/postconf -d -h mail_version 2>/dev/null || echo '?'))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  note "postfix is not installed and this is not root: the Postfix test will be skipped"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v debconf-set-selections >/dev/null 2>&1; then
  note "postfix is not installed and there is no apt-get/debconf: the Postfix test will be skipped"
  exit 0
fi

# 'No configuration': the package leaves /etc/postfix without a main.cf and
# does not start the service; the test brings its own configuration.
debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string localhost
EOF

export DEBIAN_FRONTEND=noninteractive
LOG=$(mktemp /tmp/m4me-postfix-setup.XXXXXX.log)
install_postfix() {
  timeout 600 apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postfix
}
note "installing postfix with apt-get"
if ! install_postfix >"$LOG" 2>&1; then
  # A clean image often has no package lists yet.
  note "apt-get install failed; running apt-get update and trying again"
  if ! { timeout 600 apt-get update -q && install_postfix; } >>"$LOG" 2>&1; then
    note "could not install postfix (log: $LOG): the Postfix test will be skipped"
    tail -n 5 "$LOG" >&2
    exit 0
  fi
fi
rm -f "$LOG"
if [ -x /usr/sbin/postfix ]; then
  note "postfix installed ($(/usr/sbin/postconf -d -h mail_version 2>/dev/null || echo '?'))"
else
  note "apt-get reported success but /usr/sbin/postfix is missing: the Postfix test will be skipped"
fi
exit 0
