"""The radish glue: step registration, the skip and failure plumbing, the hooks' recording, the tables of
where each scenario's time went."""
