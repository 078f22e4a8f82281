"""The read side of the loyalty domain (CQRS): Redis read models and their Postgres sources.

- `keys`: the key layout; `scripts`: the Lua scripts;
- `projection`: applying one event; `rebuild`: reloading everything from Postgres;
- `readers`: what query_api reads; `active`: which codes a user sees (pure, the domain rules);
- `postgres`: the read-only SQL (rebuild, fallbacks, attempts log); `batch_csv`: CSV export.
"""
