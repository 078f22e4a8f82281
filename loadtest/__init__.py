"""Load test of the platform: Locust scenarios, a seed step and an SLO gate (`make loadtest`)."""
