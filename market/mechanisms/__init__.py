"""The market's rules as plain functions: no Mesa import, each testable with numbers on paper."""
