#!/bin/bash
# run_resolver_test.sh TEST-BINARY [ARGS...]
#
# Starts a private unbound on 127.0.0.1:<free port> serving the test zones
# below, waits until it has bound its port, runs TEST-BINARY with
# MXS_TEST_DNS=127.0.0.1:<port>, and stops unbound on any exit.  Nothing
# leaves the machine: every test name is under a local zone and the root
# is refused.
set -u

UNBOUND=${UNBOUND:-/usr/sbin/unbound}
if [ ! -x "$UNBOUND" ]; then
  echo "run_resolver_test: $UNBOUND not found: skipped" >&2
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mxs-resolver-test.XXXXXX") || exit 1
ub_pid=""
cleanup() {
  if [ -n "$ub_pid" ]; then
    kill "$ub_pid" 2>/dev/null
    wait "$ub_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# The zones.  Order of local-data lines is the answer order (round-robin
# off), which the tie-breaking test relies on.
zones() {
  cat <<'ZONES'
  local-zone: "." refuse
  local-zone: "mx.test." static
  local-data: "a.mx.test. IN A 192.0.2.1"
  local-data: "a.mx.test. IN A 192.0.2.2"
  local-data: "b.mx.test. IN A 192.0.2.3"
  local-data: "b.mx.test. IN AAAA 2001:db8::3"
  local-data: "c.mx.test. IN TXT \"no address here\""
  local-data: "v6only.mx.test. IN AAAA 2001:db8::6"
  local-data: "shared.mx.test. IN A 192.0.2.100"
  local-data: "cname.mx.test. IN CNAME a.mx.test."
  local-zone: "mx3.test." static
  local-data: "mx3.test. IN MX 30 c.mx.test."
  local-data: "mx3.test. IN MX 10 a.mx.test."
  local-data: "mx3.test. IN MX 20 b.mx.test."
  local-zone: "tie.test." static
  local-data: "tie.test. IN MX 10 z.mx.test."
  local-data: "tie.test. IN MX 5 b.mx.test."
  local-data: "tie.test. IN MX 10 a.mx.test."
  local-data: "tie.test. IN MX 10 c.mx.test."
  local-zone: "dup.test." static
  local-data: "dup.test. IN MX 20 a.mx.test."
  local-data: "dup.test. IN MX 10 A.MX.TEST."
  local-data: "dup.test. IN MX 30 a.mx.test."
  local-zone: "nullmx.test." static
  local-data: "nullmx.test. IN MX 0 ."
  local-zone: "implicit.test." static
  local-data: "implicit.test. IN A 192.0.2.50"
  local-zone: "implicit6.test." static
  local-data: "implicit6.test. IN AAAA 2001:db8::50"
  local-zone: "txtonly.test." static
  local-data: "txtonly.test. IN TXT \"v=spf1 -all\""
  local-zone: "noaddr.test." static
  local-data: "noaddr.test. IN MX 10 c.mx.test."
  local-data: "noaddr.test. IN MX 20 nosuch.mx.test."
  local-zone: "ipmx.test." static
  local-data: "ipmx.test. IN MX 10 127.0.0.9."
  local-zone: "127.0.0.9." static
  local-zone: "sharea.test." static
  local-data: "sharea.test. IN MX 10 shared.mx.test."
  local-zone: "shareb.test." static
  local-data: "shareb.test. IN MX 10 SHARED.mx.test."
  local-zone: "sharec.test." static
  local-data: "sharec.test. IN MX 10 shared.mx.test."
  local-zone: "v6.test." static
  local-data: "v6.test. IN MX 10 b.mx.test."
  local-data: "v6.test. IN MX 20 v6only.mx.test."
  local-zone: "mxcname.test." static
  local-data: "mxcname.test. IN MX 10 cname.mx.test."
  local-zone: "badmx.test." static
  local-data: "badmx.test. IN MX 10 host.timeout.test."
  local-data: "badmx.test. IN MX 20 host.refused.test."
  local-data: "badmx.test. IN MX 30 host.servfail.test."
  local-data: "badmx.test. IN MX 40 a.mx.test."
  local-zone: "refused.test." refuse
  local-zone: "timeout.test." deny
  local-zone: "servfail.test." transparent
  local-zone: "many.test." static
  local-zone: "txt.test." static
  local-data: '_mta-sts.txt.test. IN TXT "v=STSv1 " "id=split1"'
  local-data: 'two.txt.test. IN TXT "first"'
  local-data: 'two.txt.test. IN TXT "" "second"'
  local-data: "host.txt.test. IN A 192.0.2.77"
ZONES
  # many.test: m0..m299 share two MX hosts; other names under it are NXDOMAIN.
  i=0
  while [ $i -lt 300 ]; do
    echo "  local-data: \"m$i.many.test. IN MX 10 shared.mx.test.\""
    echo "  local-data: \"m$i.many.test. IN MX 20 a.mx.test.\""
    i=$((i + 1))
  done
}

# servfail.test is a stub zone served by this same unbound: the inner query
# has RD=0 and no local data, so it is REFUSED, and the outer resolution
# answers a genuine SERVFAIL at once (a closed port would take minutes).
write_conf() {
  cat >"$tmp/unbound.conf" <<CONF
server:
  interface: 127.0.0.1
  port: $1
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$tmp"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 1
  do-ip6: no
  so-reuseport: no
  num-threads: 1
  module-config: "iterator"
  do-not-query-localhost: no
  rrset-roundrobin: no
  minimal-responses: yes
$(zones)
stub-zone:
  name: "servfail.test."
  stub-addr: 127.0.0.1@$1
CONF
}

# Try a few random high ports: unbound exits if the port is taken
# (so-reuseport off, so it cannot silently share one).
port=""
for attempt in 1 2 3 4 5 6 7 8; do
  try=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
  write_conf "$try"
  "$UNBOUND" -d -c "$tmp/unbound.conf" >"$tmp/unbound.log" 2>&1 &
  ub_pid=$!
  for _ in $(seq 1 100); do
    if grep -q "start of service" "$tmp/unbound.log"; then
      port=$try
      break
    fi
    kill -0 "$ub_pid" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$port" ] && break
  kill "$ub_pid" 2>/dev/null
  wait "$ub_pid" 2>/dev/null
  ub_pid=""
done
if [ -z "$port" ]; then
  echo "run_resolver_test: unbound did not start:" >&2
  cat "$tmp/unbound.log" >&2
  exit 1
fi

MXS_TEST_DNS="127.0.0.1:$port" "$@"
rc=$?
if [ $rc -ne 0 ]; then
  echo "--- unbound log ---" >&2
  cat "$tmp/unbound.log" >&2
fi
exit $rc
