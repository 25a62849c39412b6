"""Writes of the jobs app: imports (HackSoft-style services)."""
