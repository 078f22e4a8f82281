"""Purchasing: quotes, uses and their purchases, the attempts log, idempotency keys."""
