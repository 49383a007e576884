"""What goes into the table: posts checked against the platform rules."""
