"""The compiler: finds the layers, wires them, renders, checks limits and policies, lints, caches."""
