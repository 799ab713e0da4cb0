"""Pure decisions: config -> resolved, executable plans; tuning profiles; SQL building. No I/O."""
