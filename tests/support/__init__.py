"""Shared test helpers: API clients, language fixtures, factories and the loopback
servers that stand in for real outside services."""
