"""What comes out of it: status, health checks, housekeeping."""
