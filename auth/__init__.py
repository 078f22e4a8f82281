"""The auth service: accounts, passwords, tokens. The only holder of personal data."""
