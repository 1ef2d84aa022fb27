"""Wharf runtime: assembles declared processes, runs them, serves them."""
