"""SQLAdmin operator screens."""
