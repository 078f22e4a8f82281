"""The loyalty domain, by aggregate.

- `domain/`: enums, rules (pure), errors (one class per code), event payloads;
- `catalog/`: tariffs, promo codes, generated batches (repository, handlers, generator);
- `audience/`: the users replica, groups, assignments (repository, handlers, user sync);
- `purchasing/`: quotes, uses, purchases, attempts, idempotency, the failed-attempts limit;
- `read/`: the read side (Redis read models, projection, rebuild, read-only SQL);
- `models.py` (tables), `schemas.py` (API bodies), `context.py` (unit of work),
  `handlers.py` (the write side's public API).
"""
