"""The plumbing every feature stands on: settings, clock, database, migrations runner,
request context, transaction retry and the OpenAPI response helpers. Imports no feature."""
