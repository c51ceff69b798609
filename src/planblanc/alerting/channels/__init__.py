"""Notification channels: one module per channel, all behind channels.base.Provider."""
