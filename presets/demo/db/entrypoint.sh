#!/bin/sh
# First start: initialize the cluster in the (persistent) data volume; then run postgres.
set -e
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb --username=postgres --auth=trust --encoding=UTF8 "$PGDATA" >/dev/null
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  echo "host all all 0.0.0.0/0 trust" >> "$PGDATA/pg_hba.conf"
fi
exec postgres -D "$PGDATA"
