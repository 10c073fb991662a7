"""The agent's brain: planner (§8), goals and workers (§9), heartbeat (§10), LLM turns (§11)."""
