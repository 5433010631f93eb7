"""One profile across scenarios: consents, partners' scenario events, tags with decaying
weights and their evidence, and a member's export and erasure (issue 17)."""
