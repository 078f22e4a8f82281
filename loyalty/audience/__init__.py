"""The audience: users (the replica of auth's), groups and code assignments."""
