"""Source adapters. Drivers and their errors stay inside this package."""
