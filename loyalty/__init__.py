"""The loyalty domain: models, pure rules, command handlers, read models, generator."""
