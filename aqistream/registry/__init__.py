"""Data contracts in a schema registry: the registered form of each schema, and the client."""
