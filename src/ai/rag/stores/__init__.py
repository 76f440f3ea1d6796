"""Vector-store backends; each imports its driver only when it is used."""
