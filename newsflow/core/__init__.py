"""The ground floor: the article record, the error types and small shared helpers.

Every module here is a leaf: it imports nothing of newsflow, so every layer above may use it.
"""
