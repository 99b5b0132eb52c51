#!/usr/bin/env bash
# Ensure RabbitMQ (127.0.0.1:5672) and PostgreSQL (127.0.0.1:5432) answer; install with
# apt-get where missing, start where stopped. Idempotent; quiet when all is well.
set -uo pipefail
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { for _ in $(seq 1 "$2"); do answers "$1" && return 0; sleep 1; done; return 1; }
apt_install() {
  command -v apt-get >/dev/null || { echo "apt-get missing: install $* by hand" >&2; return 1; }
  [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' 2>/dev/null | head -1)" ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
}

if ! answers 5672; then
  command -v rabbitmq-server >/dev/null || PATH="$PATH:/usr/sbin"
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  echo "starting RabbitMQ ..." >&2
  # The suites create and delete many queues and connections; with Debian's default of 1024 open
  # files the broker's file-handle cache runs out and new connections hang in the handshake.
  env_conf=/etc/rabbitmq/rabbitmq-env.conf
  if [ -w /etc/rabbitmq ] && ! grep -qs "ulimit" "$env_conf"; then
    echo 'ulimit -S -n 20000 2>/dev/null || true' >> "$env_conf"
  fi
  rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_for 5672 90 || { echo "RabbitMQ did not answer on 127.0.0.1:5672" >&2; exit 1; }
fi

# A broker already running (started by the machine, not by us) may have come up with Debian's
# 1024 open files: its file-handle cache then counts ~900 handles, which the suites' few hundred
# queues exhaust (measured: 1,296 "used" for 34 real descriptors), and new connections hang in
# the handshake. Raise the cache's limit at run time, and write the ulimit for its next start.
if answers 5672 && command -v rabbitmqctl >/dev/null; then
  env_conf=/etc/rabbitmq/rabbitmq-env.conf
  if [ -w /etc/rabbitmq ] && ! grep -qs "ulimit" "$env_conf"; then
    echo 'ulimit -S -n 20000 2>/dev/null || true' >> "$env_conf"
  fi
  limit=$(timeout 20 rabbitmqctl eval 'proplists:get_value(total_limit, file_handle_cache:info([total_limit])).' 2>/dev/null | tr -dc 0-9)
  if [ -n "$limit" ] && [ "$limit" -lt 10000 ]; then
    timeout 20 rabbitmqctl eval 'file_handle_cache:set_limit(18000).' >/dev/null 2>&1 \
      && echo "RabbitMQ's file-handle limit was $limit: raised to 18000" >&2
  fi
fi

if ! answers 5432; then
  PATH="$PATH:/usr/sbin:/usr/lib/postgresql/15/bin"
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  echo "starting PostgreSQL ..." >&2
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  if [ -z "$ver" ]; then apt_install postgresql; ver=$(ls /etc/postgresql | sort -V | tail -1); fi
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || pg_ctlcluster "$ver" main start || true
  wait_for 5432 60 || { echo "PostgreSQL did not answer on 127.0.0.1:5432" >&2; exit 1; }
fi
exit 0
