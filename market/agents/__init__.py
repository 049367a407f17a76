"""Agents: one module per kind, with a shared Provider base."""

from market.agents.buyer import Buyer, BuyerBook
from market.agents.hyperscaler import Hyperscaler
from market.agents.neocloud import Neocloud
from market.agents.nvidia import Nvidia
from market.agents.provider import Provider, ProviderBook

__all__ = ["Buyer", "BuyerBook", "Hyperscaler", "Neocloud", "Nvidia", "Provider", "ProviderBook"]
