#!/usr/bin/env bash
# The two database roles (README "Database roles"), made once by the PostgreSQL image's
# first start (docker-entrypoint-initdb.d), as its superuser:
# - ivsettle_owner owns the database and its tables; only migrations connect as it;
# - ivsettle_app is what the service connects as: it owns nothing, and each migration
#   grants it SELECT and INSERT on the write-once tables and SELECT, INSERT, UPDATE,
#   DELETE on the others (service/kit/privileges.py).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$IVSETTLE_OWNER_PASSWORD" -v service_password="$IVSETTLE_SERVICE_PASSWORD" <<'SQL'
CREATE ROLE ivsettle_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE ivsettle_app LOGIN PASSWORD :'service_password';
CREATE DATABASE ivsettle OWNER ivsettle_owner;
REVOKE ALL ON DATABASE ivsettle FROM PUBLIC;
GRANT CONNECT ON DATABASE ivsettle TO ivsettle_app;
SQL
