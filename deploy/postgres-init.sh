#!/bin/bash
# Run once by the postgres:15 image on an empty data volume (mounted into
# /docker-entrypoint-initdb.d by docker-compose.yml): one database per service, all
# owned by $POSTGRES_USER (closeloop). It may be sourced rather than executed (when the
# file lost its executable bit), so it never calls `exit`.
set -eo pipefail  # the same options as the image's entrypoint, which may source this file

for db in issues verification scoring notify; do
  echo "closeloop: creating database $db"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" <<SQL
SELECT 'CREATE DATABASE $db OWNER "$POSTGRES_USER"'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db') \gexec
SQL
done
