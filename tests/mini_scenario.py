"""A tiny scenario (one generation, one provider, one lab) for tests of loading and validation."""

MINI = """\
name = "mini"
title = "A tiny market"

[market]
months = 3

[[generations]]
name = "H100"
launch = "2023-03"
list_price = 25000
unit_cost = 6500
system_cost = 20000
training_perf = 1.0
inference_perf = 1.0
power_kw = 1.3
memory_gb = 80
monthly_output = 1000

[[providers]]
name = "Cloudy"
kind = "neocloud"
cash = 1e9
powered_mw = 20
fleet = [{ generation = "H100", gpus = 5000, installed = "2025-01", unit_cost = 45000 }]

[[buyers]]
name = "Lab"
kind = "lab"
cash = 1e9
inference_demand = 1e6
contracts = [{ seller = "Cloudy", generation = "H100", gpus = 1000, start = "2025-06", term_months = 24, price_per_gpu_hour = 2.0 }]
"""
