"""The shipped default model (package data; see models/README.md)."""
