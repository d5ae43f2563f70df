"""Shared pieces of the demo and the convergence benchmark."""
