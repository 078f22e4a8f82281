"""query_api service."""
