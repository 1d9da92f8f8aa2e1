"""Telegram handlers, one module per group of commands; each handler stays a few lines."""
