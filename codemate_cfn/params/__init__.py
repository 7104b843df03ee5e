"""Root parameters: the catalogue's types and the checks of parameter files."""
