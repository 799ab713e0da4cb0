"""One module per subcommand: wires config, plans, adapters and the pipeline."""
