"""Headless batch runs: `gpumarket sweep` runs a scenario over a design of parameter values
and seeds, streaming results to Parquet; `gpumarket report` summarises them.

    design.py    the designs (grid, LHS, Sobol, Morris), run ids and the seed rule
    runner.py    the executor loop: manifest first, bounded in-flight chunks, retries, resume
    worker.py    what runs in a worker process: one chunk of runs
    outcomes.py  the outcome columns of runs.parquet
    store.py     the files: manifest.json, Parquet parts, runs.parquet
    progress.py  a rich bar on a terminal, log lines elsewhere
    report.py    means, intervals and sensitivity indices
    cli.py       the two subcommands
"""
