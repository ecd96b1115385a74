#!/bin/bash
# Run once by the postgres image, when its data volume is first initialised:
# the router's own login role and database (the router is no superuser).
# `callrouter migrate` creates the tables at every start of the router.
# To change the password later: ALTER ROLE callrouter PASSWORD '...'; then
# update CALLROUTER_DATABASE_PASSWORD in .env.
set -euo pipefail

if [[ -z ${CALLROUTER_DATABASE_PASSWORD:-} || $CALLROUTER_DATABASE_PASSWORD == change-me ]]; then
    echo "10-callrouter.sh: set CALLROUTER_DATABASE_PASSWORD in docker/.env" >&2
    exit 1
fi

# \getenv (psql 15) reads the password from the environment, not argv.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" <<'SQL'
\getenv password CALLROUTER_DATABASE_PASSWORD
CREATE ROLE callrouter LOGIN PASSWORD :'password';
CREATE DATABASE callrouter OWNER callrouter;
SQL
