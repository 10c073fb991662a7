"""Session memory: bounded RAM (§5.1), the memory manager (§5.2) and the SQLite LTM store (§5.3)."""
