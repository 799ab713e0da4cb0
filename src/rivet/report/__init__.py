"""Run results, summaries and progress. Observes the pipeline, never steers it."""
