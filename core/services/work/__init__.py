"""The work on clients: deals in pipelines, tasks, the inbox of incoming work and who gets it."""
