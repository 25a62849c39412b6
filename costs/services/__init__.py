"""Writes of the costs app: the price catalog, rollups and allocation (HackSoft-style services)."""
