"""The suite's core: the scenario, its namespace, settings, connection, fixtures, evidence, capabilities,
permissions, redaction, waiting, provenance. It imports nothing of the other rooms."""
