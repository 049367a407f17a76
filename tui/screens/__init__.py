"""Screens of the terminal UI: the main market screen and the dialogs."""
