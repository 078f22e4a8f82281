"""Infrastructure shared by every process: settings, database, outbox, streams, errors, security."""
