"""command_api service."""
