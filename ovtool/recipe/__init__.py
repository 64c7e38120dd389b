"""Recipes: schema, loading, overrides, starters."""
