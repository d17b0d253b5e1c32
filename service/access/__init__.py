"""Who may do what: API keys and clients, the CPR vault, who may see a CPR number, and the
audit log of who looked."""
