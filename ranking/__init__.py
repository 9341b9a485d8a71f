"""Ranking: order retrieved candidates. Downstream of retrieval, upstream of explanation."""
