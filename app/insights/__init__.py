"""'Users like you' (issue 17.6): cohort statistics computed nightly, k-anonymous and noised."""
