"""The loyalty domain core: enums, rules, errors and event payloads. No I/O here."""
