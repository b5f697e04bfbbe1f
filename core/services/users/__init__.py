"""Users, teams, roles and permissions, sign-in, API tokens, the acting user."""
