"""Redis read models of the loyalty domain (the CQRS read side).

- `keys`: the key layout; `scripts`: the Lua scripts;
- `projection`: applying one event; `rebuild`: reloading everything from Postgres;
- `readers`: what query_api reads; `active`: which codes a user sees (pure).
"""
