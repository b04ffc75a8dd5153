"""`closeloop demo`: the reference campaign played on a simulated clock through the real services (demo data)."""
