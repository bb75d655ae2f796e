"""The concierge: triage, matching and replies to mentions on X."""
