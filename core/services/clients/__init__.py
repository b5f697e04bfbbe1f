"""Contacts and companies: their fields, merging, duplicates, the timeline, lists and search."""
