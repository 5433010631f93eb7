"""Offline push: devices, per-kind mute settings, quiet hours, and pluggable senders."""
