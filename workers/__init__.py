"""Background workers: outbox relays, user sync, projector, reservation reaper."""
