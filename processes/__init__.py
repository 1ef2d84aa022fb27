"""The step library and the outbound connectors."""
