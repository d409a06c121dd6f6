"""Curation: embeddings in, a decision and stable reasons per image and per identity out."""
