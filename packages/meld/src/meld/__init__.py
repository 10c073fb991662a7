"""meld: filesystem Merkle tree (BLAKE3) and LLM-generated context frames."""

__version__ = "0.1.0"
