"""Asterisk through its manager interface (AMI): call events, click-to-call, routing lookup, recordings."""
