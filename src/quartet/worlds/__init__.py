"""Generators of built-in data: arithmetic word problems, worlds of fictional facts."""
