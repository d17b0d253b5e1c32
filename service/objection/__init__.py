"""Objections (indsigelser): a municipality objects to a billed line or a course; the
region answers."""
