"""Retrieval: embed the interest query and fetch candidates from a Chroma index of items.

Downstream of the agent, upstream of ranking: it knows the catalogue and the index,
never the conversation.
"""
