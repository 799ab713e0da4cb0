"""rivet-mcp: read-only database health checks over the Model Context Protocol."""
