"""Plugins bundled with Mayak. Each is found through its ``mayak`` entry point, exactly like a pip-installed one."""
