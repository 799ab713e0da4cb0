"""Executes resolved plans: source -> writer -> staged parts -> destination -> manifest."""
