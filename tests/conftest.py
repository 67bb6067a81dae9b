"""Shared fixtures: small synthetic datasets, so the suite never needs ../shared."""
