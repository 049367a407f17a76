"""Neoclouds (CoreWeave, Nebius, Lambda, Crusoe): GPU rental and little else."""

from market.agents.provider import Provider


class Neocloud(Provider):
    """A GPU-only cloud financed with GPU-backed debt. Everything that sets one apart from
    another (leverage, prices, power costs and lead times) is a scenario parameter."""

    kind = "neocloud"
