#!/bin/sh
# `make db`: the PostgreSQL database that `make test` uses, on this machine's server (idempotent).
#
# The tests connect to postgresql://postgres@127.0.0.1:5432/test without a password (trust auth on
# loopback), or to $CTI_TEST_POSTGRES_URL. This script creates the database `test` when it is
# missing and says what to change when the server refuses a password-less loopback login.
set -eu
HOST=127.0.0.1 PORT=5432

if ! command -v psql >/dev/null 2>&1; then
    echo "make db: no psql; install the server first: apt-get install postgresql" >&2
    exit 1
fi
if ! pg_isready -q -h "$HOST" -p "$PORT"; then
    echo "make db: no PostgreSQL server on $HOST:$PORT; start it (Debian: pg_ctlcluster 15 main start)" >&2
    exit 1
fi

as_postgres() {  # run a command as the postgres OS user over the local socket
    if [ "$(id -un)" = postgres ]; then sh -c "$1"
    elif [ "$(id -u)" = 0 ]; then su postgres -c "$1"
    else sudo -u postgres sh -c "$1"
    fi
}

if [ "$(as_postgres "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'test'\"")" != 1 ]; then
    as_postgres "createdb test"
    echo "make db: created database test"
fi
if psql -h "$HOST" -p "$PORT" -U postgres -d test -w -tAc "SELECT 1" >/dev/null 2>&1; then
    echo "make db: ok, postgresql://postgres@$HOST:$PORT/test is ready for make test"
    exit 0
fi
hba=$(as_postgres "psql -tAc 'SHOW hba_file'")
cat >&2 <<MSG
make db: the database exists but the server asks postgres@$HOST for a password.
  Either allow trust on loopback for this development server: add the line
      host  all  all  127.0.0.1/32  trust
  near the top of $hba and reload (pg_ctlcluster 15 main reload),
  or point the tests at a URL with a password:
      export CTI_TEST_POSTGRES_URL=postgresql+asyncpg://USER:PASSWORD@127.0.0.1:5432/test
MSG
exit 1
