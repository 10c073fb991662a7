"""orthofold: mines orthos (n-dimensional word boxes) from text.

A disk-bounded generational BFS, leader/follower over a shared folder.
"""

__version__ = "0.1.0"
