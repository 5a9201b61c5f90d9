"""L4: scoring models on data sets, results tables, and the cost of nets on this machine."""
