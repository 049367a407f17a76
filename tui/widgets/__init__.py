"""Widgets of the terminal UI, one module per area of the screen."""
