"""S2EF data: the frame table, OC20 readers, the EMT demo generator and system-level folds."""
