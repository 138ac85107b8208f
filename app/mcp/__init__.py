"""The MCP server: the service's tools and resources for agents and IDE assistants (`/mcp`, `rfx mcp`)."""
