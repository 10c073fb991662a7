"""The build pipeline (§6): stages 1-4, validation gate, promotion, incremental, watch."""
