"""Programs that run on a node: its boot, its PID 1, and later its bootstrap agent."""
