"""Identity: who made a call, proven by SigV4 against the identity store and STS sessions."""
