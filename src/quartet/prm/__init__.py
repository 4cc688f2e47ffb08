"""Entropy-regularized process reward models (ER-PRM): Monte-Carlo step labels, PRM training,
best-of-N reranking and RAFT, on the embedded arithmetic world or on real data and models."""
